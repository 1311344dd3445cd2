"""stronger(): the next stronger model for a decided turn (/retry --up, kilo ask --up), a pure
function on small hand-made pools (no pool files, no encoder)."""

from __future__ import annotations

from kilocli.routing.classifier import Classification
from kilocli.routing.escalation import stronger
from kilocli.routing.pools import Catalogue, ModelSpec, Price, Skill, TierPool
from kilocli.routing.router import Constraints, Decision, RouteRequest, route
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

CELL = ("debug", "hard")


def _model(ident: str, skill: float, price: float) -> ModelSpec:
    skills = {(t, d): Skill(0.5, "test") for t in TASKS for d in DIFFICULTIES}
    skills[CELL] = Skill(skill, "test")
    return ModelSpec(
        id=ident,
        name=ident,
        vendor="test",
        context_window=100_000,
        max_output_tokens=8_000,
        price=Price(price, price, None, "test", "2026-11-26"),
        provider_ids={"testnet": f"test/{ident}"},
        skills=skills,
    )


def _pool(name: str, models: list[str]) -> TierPool:
    return TierPool(
        name=name,
        description="test pool",
        rule="cheapest_adequate",
        models=tuple(models),
        bars=dict.fromkeys(DIFFICULTIES, 0.5),
        expected_output_tokens=dict.fromkeys(TASKS, 1_000),
        switch_factor=2.0,
        fallback="balanced",
        min_margin=0.1,
        fallback_chain=("balanced",),
    )


CATALOGUE = Catalogue(
    models={
        m.id: m
        for m in (
            _model("small", 0.55, 0.1),
            _model("mid", 0.70, 1.0),
            _model("cheap-strong", 0.80, 0.5),
            _model("big", 0.90, 10.0),
        )
    }
)
TIER = _pool("auto-efficient", ["small", "mid"])
FRONTIER = _pool("frontier", ["big", "cheap-strong"])
EVERYWHERE = dict.fromkeys(CATALOGUE.models, "testnet")


def _decided() -> Decision:
    """A real route() decision: the cheapest adequate model of TIER ('small')."""
    classification = Classification(
        task=CELL[0],
        difficulty=CELL[1],
        task_probs={t: 0.6 if t == CELL[0] else 0.05 for t in TASKS},
        difficulty_probs={d: 0.7 if d == CELL[1] else 0.15 for d in DIFFICULTIES},
        task_margin=0.5,
        difficulty_margin=0.55,
    )
    return route(
        classification,
        RouteRequest(input_tokens=1_000),
        TIER,
        CATALOGUE,
        Constraints(reachable=EVERYWHERE),
        frontier=FRONTIER,
    )


def test_the_cheapest_model_more_skilled_than_the_routed_one_wins_across_both_pools():
    routed = _decided()
    assert routed.model == "small"
    up = stronger(routed, [TIER, FRONTIER], CATALOGUE, EVERYWHERE)
    assert up is not None
    # 'mid' (1.0) and 'cheap-strong' (0.5) are both stronger: the cheaper one is taken
    assert (up.model, up.provider, up.skill) == ("cheap-strong", "testnet", 0.80)
    assert up.estimated_cost_usd is not None and up.estimated_cost_usd < 0.01
    assert not (up.pinned or up.sticky or up.fallback_used)
    assert up.reason == (
        "retry with a stronger model: cheap-strong (skill 0.80 for debug/hard, was small 0.55)"
    )
    # everything else of the decision is kept (the same cell, tokens and tier)
    assert (up.task, up.difficulty, up.tier, up.input_tokens) == (
        routed.task,
        routed.difficulty,
        routed.tier,
        routed.input_tokens,
    )


def test_excluded_and_unreachable_models_are_skipped():
    routed = _decided()
    up = stronger(routed, [TIER, FRONTIER], CATALOGUE, EVERYWHERE, excluded={"cheap-strong"})
    assert up is not None and up.model == "mid"
    only_big = {"small": "testnet", "big": "other"}
    up = stronger(routed, [TIER, FRONTIER], CATALOGUE, only_big)
    assert up is not None and (up.model, up.provider) == ("big", "other")


def test_no_provider_configured_counts_every_model_and_names_no_provider():
    up = stronger(_decided(), [TIER, FRONTIER], CATALOGUE, None)
    assert up is not None and (up.model, up.provider) == ("cheap-strong", None)


def test_none_when_nothing_is_stronger():
    routed = _decided()
    assert stronger(routed, [TIER], CATALOGUE, {"small": "testnet"}) is None
    strongest = stronger(routed, [TIER, FRONTIER], CATALOGUE, {"big": "testnet", "small": "x"})
    assert strongest is not None and strongest.model == "big"
    assert stronger(strongest, [TIER, FRONTIER], CATALOGUE, EVERYWHERE) is None
