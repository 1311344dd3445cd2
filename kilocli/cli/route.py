"""`kilo route`: where a request would go, without calling any model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from kilocli import output
from kilocli.cli.common import (
    NoPersonalOpt,
    PoolOpt,
    PromptArg,
    TierOpt,
    check_tier,
    context,
    gather_prompt,
)
from kilocli.errors import UsageError


def register(cli: typer.Typer) -> None:
    cli.command("route")(route)


def route(
    prompt: PromptArg = None,
    explain: Annotated[
        bool, typer.Option("--explain", "-e", help="Show why: buckets, candidates, costs.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per decision.")] = False,
    tier: TierOpt = None,
    pool: PoolOpt = None,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch",
            help="JSON lines with a 'prompt' field, or one prompt a line ('-' = stdin).",
            allow_dash=True,
        ),
    ] = None,
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not read piped stdin.")] = False,
    teach: Annotated[
        str | None,
        typer.Option(
            "--teach",
            metavar="TASK/DIFFICULTY",
            help="Record this label for the prompt: it becomes a personal routing example.",
        ),
    ] = None,
    no_personal: NoPersonalOpt = False,
) -> None:
    """Decide where a request would go, without calling any model (no network, no key needed).

    Examples:

      kilo route "rename foo to bar in utils.py"

      kilo route --explain "plan a postgres->sqlite migration"

      kilo route --json --batch prompts.jsonl

      kilo route --json < prompts.txt      (one decision per input line)

      kilo route --teach edit/easy "migrate the users table"   (teach the router your label)
    """
    label = None
    if teach is not None:
        from kilocli.routing.personal import parse_label

        label = parse_label([teach], "--teach")
        if batch is not None:
            raise UsageError("--teach: labels one prompt; it cannot be used with --batch")
    kilo, router = context(pool, personal=not no_personal)
    tier_name = check_tier(tier, kilo.settings.tier)
    if label is not None:
        _teach(kilo, router, gather_prompt(prompt, use_stdin=not no_stdin), label, tier_name)
        return
    if batch is None and as_json and not prompt and not no_stdin:
        from kilocli.stdin import read_piped_stdin

        piped = read_piped_stdin()
        if piped is not None:
            _route_batch(router, _prompts_from_text(piped, "stdin"), tier_name)
            return
    if batch is not None:
        _route_batch(router, _read_batch(batch), tier_name)
        return
    text = gather_prompt(prompt, use_stdin=not no_stdin)
    decision = router.decide([text], tier=tier_name)
    if as_json:
        output.write_answer(json.dumps(decision.to_json(), ensure_ascii=False) + "\n")
    elif explain:
        from kilocli.ui.route import explain as render_explain

        output.stdout().print(render_explain(decision))
    else:
        from kilocli.ui.lines import summary_line

        output.write_line(summary_line(decision))


def _teach(kilo, router, text: str, label: tuple[str, str], tier: str) -> None:
    """Record the user's label for ``text`` and say how it routes now."""
    from kilocli.ui.lines import summary_line

    before = router.decide([text], tier=tier)
    with kilo.store() as store:
        cid = store.add_correction(text, *label, "teach", routed=before.to_json())
    router.refresh_personal()
    after = router.decide([text], tier=tier)
    was = f"{before.task}/{before.difficulty}"
    output.stdout().print(
        f"recorded #{cid}: {label[0]}/{label[1]} (it was routed {was}); now: {summary_line(after)}",
        markup=False,
    )
    if not router.personal:
        output.note("--no-personal: recorded, but this run routes without your corrections")


def _read_batch(path: Path) -> list[str]:
    from kilocli.stdin import decode_text

    if str(path) == "-":
        from kilocli.stdin import read_piped_stdin

        text = read_piped_stdin(required=True) or ""
        return _prompts_from_text(text, "stdin")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--batch: cannot read {path}: {exc.strerror}") from None
    return _prompts_from_text(decode_text(data, str(path)), str(path))


def _prompts_from_text(text: str, origin: str) -> list[str]:
    """JSON lines with a 'prompt' field, or plain text with one prompt a line (blanks skipped)."""
    prompts: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("{"):
            try:
                obj = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{origin}:{lineno}: invalid JSON: {exc.msg}") from None
            value = obj.get("prompt") if isinstance(obj, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{origin}:{lineno}: JSON line needs a non-empty string 'prompt'")
            prompts.append(value)
        else:
            prompts.append(stripped)
    if not prompts:
        raise UsageError(f"{origin}: no prompts found")
    return prompts


def _route_batch(router, prompts: list[str], tier: str) -> None:
    chunk = 256  # encode in batches; write as we go so a long file streams out
    for start in range(0, len(prompts), chunk):
        decisions = router.decide_many(prompts[start : start + chunk], tier=tier)
        sys.stdout.write(
            "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in decisions)
        )
    sys.stdout.flush()
