"""`kilo models`: the catalogue, as a table or as JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kilocli import output
from kilocli.app import App
from kilocli.cli.common import TierOpt, check_tier


def register(cli: typer.Typer) -> None:
    cli.command("models")(models)


def models(
    tier: TierOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The catalogue as JSON.")] = False,
) -> None:
    """The model pool: prices, context windows, skills, tiers, and which models your keys reach."""
    from kilocli.routing.taxonomy import TIERS

    kilo = App.load(on_note=output.note)
    tiers = {name: kilo.tier(name) for name in TIERS}
    if tier is not None:
        check_tier(tier, tier)
        tiers = {tier: tiers[tier]}
    reachable = kilo.reachable()
    models_ = [
        m for m in kilo.catalogue().models.values() if tier is None or m.id in tiers[tier].models
    ]
    if as_json:
        from kilocli.catalogue_view import model_rows

        rows = model_rows(models_, tiers, reachable)
        output.write_answer(json.dumps(rows, indent=2) + "\n")
        return
    from kilocli.routing.pools import Catalogue
    from kilocli.ui.route import models_table

    output.stdout().print(models_table(Catalogue({m.id: m for m in models_}), reachable, tiers))
    if reachable is None:
        output.note(
            "No provider configured: set OPENROUTER_API_KEY, ANTHROPIC_API_KEY or OPENAI_API_KEY, "
            "or `kilo auth set PROVIDER`."
        )
