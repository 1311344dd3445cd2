"""`kilo stats`: what was spent, where, on what kind of work, and what routing saved."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from kilocli.completion import complete_tiers
from kilocli.errors import UsageError
from kilocli.ui.tables import emit_json, print_table

if TYPE_CHECKING:
    from kilocli.app import App
    from kilocli.store import TurnRecord
    from kilocli.whatif import WhatIf


def register(cli: typer.Typer) -> None:
    cli.command("stats")(stats_command)


_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``, ``24h``, ``2w``, ``today``, a local date ``2026-11-01`` or an ISO date-time."""
    value = text.strip().lower()
    match = _RELATIVE.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if value == "today":
        value = now.astimezone().date().isoformat()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime(day.year, day.month, day.day).astimezone()  # local midnight
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since: expected 7d, 24h, 2w, today or a date like 2026-11-01, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


def stats_command(
    since: Annotated[
        str | None,
        typer.Option("--since", help="7d, 24h, 2w, today, or a date like 2026-11-01."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The figures as JSON.")] = False,
    what_if: Annotated[
        str | None,
        typer.Option(
            "--what-if",
            help="Replay the stored turns' routing under this tier and compare the cost.",
            autocompletion=complete_tiers,
        ),
    ] = None,
) -> None:
    """Spend by day and by model, turns by task, and what routing saved against the frontier tier.

    Examples:

      kilo stats

      kilo stats --since 7d

      kilo stats --since 2026-11-01 --json

      kilo stats --what-if balanced      (what the same turns would have cost under balanced)
    """
    from kilocli import budget, output
    from kilocli.app import App
    from kilocli.routing.taxonomy import unknown_tier

    if what_if is not None and (problem := unknown_tier(what_if)):
        raise UsageError(f"--what-if: {problem}")
    kilo = App.load(on_note=output.note)
    settings = kilo.settings
    start = parse_since(since, datetime.now(UTC)) if since else None
    with kilo.store() as store:
        figures = store.stats(start)
        # budgets count today and this month whatever --since says (the session one: the latest)
        latest = store.latest_session_id()
        uses = budget.uses(settings, store.spent(latest)) if budget.configured(settings) else []
        turns = store.turns_for_replay(start) if what_if is not None else []
    replayed = _replay(kilo, turns, what_if) if what_if is not None else None
    if as_json:
        data = figures.to_json()
        data["budgets"] = [
            {**u.to_json(), **({"session_id": latest} if u.name == "session" else {})} for u in uses
        ]
        if replayed is not None:
            data["what_if"] = replayed.to_json()
        emit_json(data)
        return
    from kilocli.ui.stats import render, render_what_if

    print_table(render(figures, uses, latest))
    if replayed is not None:
        print_table(render_what_if(replayed))


def _replay(kilo: App, turns: list[TurnRecord], tier: str) -> WhatIf:
    from kilocli.whatif import replay

    router = kilo.router()
    return replay(
        turns,
        tier,
        lambda c, tokens: router.decide_classified(c, tier=tier, input_tokens=tokens),
        router.catalogue,
    )
