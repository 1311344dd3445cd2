"""model_rows(): the data of `kilo models --json`, built without a terminal."""

from __future__ import annotations

import json

from kilocli.catalogue_view import model_rows
from kilocli.routing.pools import ModelSpec, Price, Skill, TierPool


def _spec(ident: str) -> ModelSpec:
    return ModelSpec(
        id=ident,
        name=ident.title(),
        vendor="test",
        context_window=64_000,
        max_output_tokens=8_000,
        price=Price(1.5, 6.0, None, "test list", "2026-11-26"),
        provider_ids={"openrouter": f"test/{ident}"},
        skills={("edit", "easy"): Skill(0.8, "a figure"), ("debug", "hard"): Skill(0.4, "b")},
    )


def _pool(name: str, models: tuple[str, ...]) -> TierPool:
    return TierPool(
        name=name,
        description="",
        rule="ordered",
        models=models,
        bars={},
        expected_output_tokens={},
        switch_factor=2.0,
        fallback="balanced",
        min_margin=0.1,
        fallback_chain=(),
    )


def test_a_row_names_price_skills_tiers_and_the_provider_that_reaches_it():
    tiers = {"free": _pool("free", ("other",)), "balanced": _pool("balanced", ("m1", "other"))}
    rows = model_rows([_spec("m1")], tiers, {"m1": "openrouter"})
    assert rows == [
        {
            "id": "m1",
            "name": "M1",
            "vendor": "test",
            "context_window": 64_000,
            "price": {
                "input": 1.5,
                "output": 6.0,
                "cached_input": None,
                "source": "test list",
                "date": "2026-11-26",
            },
            "provider_ids": {"openrouter": "test/m1"},
            # cells sorted by task then difficulty
            "skills": {
                "debug/hard": {"value": 0.4, "basis": "b"},
                "edit/easy": {"value": 0.8, "basis": "a figure"},
            },
            "tiers": ["balanced"],
            "reachable_via": "openrouter",
        }
    ]
    json.dumps(rows)  # plain data: serialisable as it is


def test_no_provider_configured_reaches_nothing_and_an_unserved_model_is_none():
    tiers = {"balanced": _pool("balanced", ("m1",))}
    assert [r["reachable_via"] for r in model_rows([_spec("m1")], tiers, None)] == [None]
    assert [r["reachable_via"] for r in model_rows([_spec("m2")], tiers, {"m1": "x"})] == [None]
    assert model_rows([_spec("m2")], tiers, {})[0]["tiers"] == []
