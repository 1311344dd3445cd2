"""`kilo ask`: one routed answer (the turn itself runs in kilocli/ask.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from kilocli.cli.common import (
    ModelOpt,
    NoPersonalOpt,
    PoolOpt,
    PromptArg,
    TierOpt,
    check_tier,
    context,
    gather_prompt,
)
from kilocli.completion import complete_session_ids
from kilocli.errors import UsageError


def register(cli: typer.Typer) -> None:
    cli.command("ask")(ask)


def ask(
    prompt: PromptArg = None,
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="Attach a file (repeatable).", dir_okay=False),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    tier: TierOpt = None,
    model: ModelOpt = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Per-request cap in USD on the estimate: a cheaper adequate model or a refusal.",
        ),
    ] = None,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Wait for the whole answer.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: answer, decision, usage, cost.")
    ] = False,
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not read piped stdin.")] = False,
    pool: PoolOpt = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Call a pinned --model even if its estimate is over the cap."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds for the whole call, retries and fallbacks included (default 120).",
        ),
    ] = None,
    continue_last: Annotated[
        bool,
        typer.Option(
            "--continue", "-c", help="Continue the last session (its turns go with the prompt)."
        ),
    ] = False,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            help="Continue this session: an id or a unique prefix (kilo sessions list).",
            autocompletion=complete_session_ids,
        ),
    ] = None,
    up: Annotated[
        bool,
        typer.Option(
            "--up",
            help="Route as usual, then use the next stronger model (recorded as a correction).",
        ),
    ] = False,
    no_personal: NoPersonalOpt = False,
) -> None:
    """Ask once: the request is routed, the answer streams to stdout, route and cost to stderr.

    Examples:

      kilo ask "add a docstring to parse()" -f parser.py

      git diff | kilo ask "write a commit message"

      kilo ask -c "and now the tests for it"      (continues the last session)

      git diff | kilo ask -c "and now the commit message"

      kilo ask --tier frontier --max-cost 0.05 "plan the auth migration"

      kilo ask --up "why does this deadlock?" -f worker.py
    """
    from kilocli.ask import attach_files, run_ask

    if max_cost is not None and not (math.isfinite(max_cost) and max_cost > 0):
        raise UsageError(f"--max-cost: must be a positive, finite number of USD, got {max_cost}")
    if timeout is not None and not (math.isfinite(timeout) and 0 < timeout <= 3600):
        raise UsageError(f"--timeout: must be a number of seconds from 0 to 3600, got {timeout}")
    if continue_last and session is not None:
        raise UsageError("--continue and --session: give one (--continue is the last session)")
    if up and model is not None:
        raise UsageError("--up: escalates a routed model; it cannot be used with --model")
    kilo, router = context(pool, personal=not no_personal)
    continuation = None
    if continue_last or session is not None:
        from kilocli.continuation import load_continuation
        from kilocli.routing.taxonomy import TIERS

        flag = "--continue" if continue_last else "--session"
        with kilo.store() as store:
            continuation = load_continuation(store, session or "last", flag)
        if tier is None and continuation.tier in TIERS:
            tier = continuation.tier  # the session keeps its tier unless --tier says otherwise
    tier_name = check_tier(tier, kilo.settings.tier)
    text = attach_files(gather_prompt(prompt, use_stdin=not no_stdin), file or [])
    code = run_ask(
        kilo,
        router,
        prompt=text,
        tier=tier_name,
        system=system,
        pin=model,
        max_cost_usd=max_cost,
        stream=not no_stream,
        as_json=as_json,
        force=force,
        timeout_s=timeout,
        files=[str(f) for f in file or []],
        continuation=continuation,
        up=up,
    )
    raise typer.Exit(code)
