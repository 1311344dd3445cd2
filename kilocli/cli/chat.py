"""`kilo chat`: the routed REPL (kilocli/chat/)."""

from __future__ import annotations

from typing import Annotated

import typer

from kilocli.cli.common import ModelOpt, NoPersonalOpt, TierOpt, check_tier
from kilocli.completion import complete_session_ids


def register(cli: typer.Typer) -> None:
    cli.command("chat")(chat)


def chat(
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            "-r",
            help="Continue a session: an id, a prefix, or 'last'.",
            autocompletion=complete_session_ids,
        ),
    ] = None,
    tier: TierOpt = None,
    model: ModelOpt = None,
    no_personal: NoPersonalOpt = False,
) -> None:
    """The routed REPL: every turn goes to the cheapest adequate model; /help lists the commands."""
    from kilocli.app import App
    from kilocli.chat.app import run_chat

    kilo = App.load()
    if tier is not None:
        check_tier(tier, tier)
    raise typer.Exit(
        run_chat(kilo, tier=tier, resume=resume, model=model, personal=not no_personal)
    )
