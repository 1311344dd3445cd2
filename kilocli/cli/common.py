"""What the commands share: the common options, the wiring of a command's parts, the prompt."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kilocli import output
from kilocli.completion import complete_models, complete_tiers
from kilocli.errors import UsageError

if TYPE_CHECKING:
    from kilocli.app import App
    from kilocli.engine import Router

# the request words of `kilo route` and `kilo ask`
PromptArg = Annotated[
    list[str] | None, typer.Argument(help="The request; '-' reads it from stdin.")
]
# the pin of `kilo ask` and `kilo chat`
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Pin a model id: no routing.", autocompletion=complete_models
    ),
]
TierOpt = Annotated[
    str | None,
    typer.Option(
        "--tier",
        "-t",
        help="frontier, balanced, free or auto-efficient (default from config).",
        autocompletion=complete_tiers,
    ),
]
PoolOpt = Annotated[
    Path | None,
    typer.Option("--pool", help="Use this pool file instead of the tier's.", dir_okay=False),
]
NoPersonalOpt = Annotated[
    bool,
    typer.Option(
        "--no-personal", help="Route without your corrections (kilo examples list shows them)."
    ),
]


def context(pool: Path | None = None, *, personal: bool = True) -> tuple[App, Router]:
    """The user's App (kilocli/app.py) and its routing service, with --pool and --no-personal."""
    from kilocli.app import App

    app = App.load(on_note=output.note)
    if pool is not None and not pool.is_file():
        raise UsageError(f"--pool: no such file: {pool}")
    return app, app.router(pool_file=pool, personal=personal)


def check_tier(name: str | None, default: str) -> str:
    """The tier to use (the option's or the default); a one-line error naming --tier if unknown."""
    from kilocli.routing.taxonomy import unknown_tier

    tier = name or default
    if problem := unknown_tier(tier):
        raise UsageError(f"--tier: {problem}")
    return tier


def gather_prompt(words: list[str] | None, *, use_stdin: bool, what: str = "prompt") -> str:
    """The argument is the instruction; piped stdin joins it as a delimited block after it."""
    from kilocli.stdin import check_prompt_size, read_piped_stdin

    words = list(words or [])
    stdin_is_prompt = words == ["-"]
    if stdin_is_prompt:
        words = []
    piped = read_piped_stdin(required=True) if stdin_is_prompt else None
    if piped is None and use_stdin and not stdin_is_prompt:
        piped = read_piped_stdin()
    instruction = " ".join(words).strip()
    if piped is not None and piped.strip():
        text = f"{instruction}\n\n<stdin>\n{piped.rstrip()}\n</stdin>" if instruction else piped
    else:
        text = instruction
    if not text.strip():
        raise UsageError(f"empty {what}: pass it as an argument or pipe it on stdin")
    return check_prompt_size(text, "prompt")
