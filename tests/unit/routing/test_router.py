"""route(): the pure routing decision, on small hand-made pools (no pool files, no encoder)."""

from __future__ import annotations

import json
import time

import pytest

from kilocli.errors import PoolError, UsageError
from kilocli.routing.classifier import Classification
from kilocli.routing.pools import Catalogue, ModelSpec, Price, Skill, TierPool
from kilocli.routing.router import (
    STABLE_CANDIDATE_KEYS,
    STABLE_JSON_KEYS,
    Candidate,
    Constraints,
    Decision,
    NoCandidate,
    RouteRequest,
    route,
)
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

TASK, DIFF = "debug", "hard"
IN, OUT = 1_000, 1_000  # with these counts, cost in USD = (input + output price per Mtok) / 1000


def model(
    ident: str,
    skill: float | None,
    inp: float | None = 1.0,
    out: float | None = 1.0,
    *,
    cached: float | None = None,
    context: int = 100_000,
    providers: dict[str, str] | None = None,
    status: str = "active",
) -> ModelSpec:
    """A model whose debug/hard skill is `skill` (None: no figure there); other cells 0.9."""
    skills = {(t, d): Skill(0.9, "test figure") for t in TASKS for d in DIFFICULTIES}
    if skill is None:
        del skills[(TASK, DIFF)]
    else:
        skills[(TASK, DIFF)] = Skill(skill, f"test figure for {ident}")
    return ModelSpec(
        id=ident,
        name=ident.title(),
        vendor="test",
        context_window=context,
        max_output_tokens=8_000,
        price=Price(inp, out, cached, "test", "2026-11-26"),
        provider_ids=providers if providers is not None else {"testnet": f"test/{ident}"},
        skills=skills,
        status=status,
    )


def catalogue(*specs: ModelSpec) -> Catalogue:
    return Catalogue(models={s.id: s for s in specs})


def pool(
    models: list[str],
    *,
    rule: str = "cheapest_adequate",
    bar: float = 0.5,
    fallback: str = "balanced",
    chain: tuple[str, ...] = (),
    switch: float = 2.0,
    min_margin: float = 0.1,
    name: str = "auto-efficient",
) -> TierPool:
    return TierPool(
        name=name,
        description="test pool",
        rule=rule,
        models=tuple(models),
        bars={d: bar for d in DIFFICULTIES},
        expected_output_tokens={t: OUT for t in TASKS},
        switch_factor=switch,
        fallback=fallback,
        min_margin=min_margin,
        fallback_chain=chain or (fallback,),
    )


def classified(margin: float = 0.5, task: str = TASK, difficulty: str = DIFF) -> Classification:
    rest = (1.0 - 0.6) / (len(TASKS) - 1)
    return Classification(
        task=task,
        difficulty=difficulty,
        task_probs={t: 0.6 if t == task else rest for t in TASKS},
        difficulty_probs={d: 0.7 if d == difficulty else 0.15 for d in DIFFICULTIES},
        task_margin=margin,
        difficulty_margin=0.55,
    )


def everywhere(cat: Catalogue, provider: str = "testnet") -> dict[str, str]:
    return {m: provider for m in cat.models}


def decide(
    cat: Catalogue,
    p: TierPool,
    *,
    margin: float = 0.5,
    input_tokens: int = IN,
    frontier: TierPool | None = None,
    **constraints: object,
) -> Decision:
    constraints.setdefault("reachable", everywhere(cat))
    return route(
        classified(margin),
        RouteRequest(input_tokens=input_tokens),
        p,
        cat,
        Constraints(**constraints),  # type: ignore[arg-type]
        frontier=frontier,
    )


def row(d: Decision, ident: str) -> Candidate:
    return next(c for c in d.candidates if c.model == ident)


# -- cheapest adequate ---------------------------------------------------------------------------


def test_cheapest_adequate_model_wins_and_every_candidate_is_reported():
    cat = catalogue(
        model("strong", 0.9, 10.0, 30.0),
        model("good", 0.6, 2.0, 4.0),
        model("weak", 0.3, 0.1, 0.2),
        model("balanced", 0.55, 3.0, 6.0),
    )
    d = decide(cat, pool(["strong", "good", "weak"]))
    assert d.model == "good"
    assert d.provider == "testnet"
    assert d.estimated_cost_usd == pytest.approx(0.006)
    assert d.fallback_used is False and d.sticky is False
    assert [c.model for c in d.candidates] == ["strong", "good", "weak"]
    assert [c.adequate for c in d.candidates] == [True, True, False]
    assert row(d, "weak").reason == "below the bar 0.50"
    assert row(d, "good").skill_basis == "test figure for good"
    assert all(c.bar == 0.5 for c in d.candidates)
    assert "good is the cheapest model that meets the bar 0.50 for debug/hard" in d.reason
    assert d.expected_output_tokens == OUT and d.input_tokens == IN


def test_equal_cost_goes_to_the_more_skilled_model():
    cat = catalogue(model("a", 0.6, 1.0, 1.0), model("b", 0.8, 1.0, 1.0))
    assert decide(cat, pool(["a", "b"])).model == "b"


def test_nobody_adequate_uses_the_most_skilled_and_says_so():
    cat = catalogue(model("x", 0.42, 5.0, 5.0), model("y", 0.2, 0.1, 0.1), model("z", None))
    d = decide(cat, pool(["y", "x", "z"], bar=0.55))
    assert d.model == "x"
    assert d.reason == (
        "no model meets the bar 0.55 for debug/hard; using the most skilled: x (0.42)"
    )
    assert not any(c.adequate for c in d.candidates)
    assert row(d, "z").reason == "no skill figure for debug/hard"


# -- filters -----------------------------------------------------------------------------------


def test_cost_cap_drops_dearer_models_and_picks_a_cheaper_adequate_one():
    cat = catalogue(model("dear", 0.9, 10.0, 10.0), model("cheap", 0.6, 1.0, 1.0))
    p = pool(["dear", "cheap"], rule="ordered")
    assert decide(cat, p).model == "dear"
    d = decide(cat, p, max_cost_usd=0.005)
    assert d.model == "cheap"
    dear = row(d, "dear")
    assert not dear.eligible and not dear.adequate
    assert dear.reason == "estimate $0.02 over --max-cost $0.005"


def test_cost_cap_refuses_with_one_line_saying_which_filter_removed_what():
    cat = catalogue(
        model("a", 0.9, 10.0, 10.0),
        model("b", 0.9, 20.0, 20.0),
        model("far", 0.9, 0.1, 0.1),
        model("gone", 0.9, 0.1, 0.1),
        model("free-text", 0.9, None, None),
    )
    p = pool(["a", "b", "far", "gone", "free-text"])
    reach = {"a": "x", "b": "x", "gone": "x", "free-text": "x"}
    with pytest.raises(NoCandidate) as info:
        decide(cat, p, reachable=reach, exclude=frozenset({"gone"}), max_cost_usd=0.001)
    assert isinstance(info.value, UsageError)
    assert str(info.value) == (
        "no model of the auto-efficient tier fits this turn: 1 unreachable, 1 excluded, "
        "2 over --max-cost $0.001, 1 unpriced (cannot prove they fit --max-cost $0.001)"
    )
    assert "\n" not in str(info.value)


def test_context_window_must_hold_input_plus_expected_output():
    cat = catalogue(model("small", 0.9, 0.1, 0.1, context=8_000), model("big", 0.9, 1.0, 1.0))
    p = pool(["small", "big"])
    assert decide(cat, p, input_tokens=7_000).model == "small"  # 7,000 + 1,000 fits exactly
    d = decide(cat, p, input_tokens=7_001)
    assert d.model == "big"
    assert row(d, "small").reason == "context 8,000 < 8,001 tokens needed"


def test_unreachable_models_are_skipped_and_the_provider_is_reported():
    cat = catalogue(
        model("cheap", 0.9, 0.1, 0.1, providers={"openrouter": "o/cheap"}),
        model("dear", 0.9, 5.0, 5.0, providers={"anthropic": "dear-1"}),
    )
    d = decide(cat, pool(["cheap", "dear"]), reachable={"dear": "anthropic"})
    assert (d.model, d.provider) == ("dear", "anthropic")
    cheap = row(d, "cheap")
    assert not cheap.eligible and cheap.provider is None
    assert cheap.reason == "unreachable: needs openrouter"
    assert d.no_provider_configured is False and d.notes == []


def test_no_provider_configured_decides_over_the_whole_pool_and_says_so():
    cat = catalogue(model("cheap", 0.9, 0.1, 0.1), model("dear", 0.9, 5.0, 5.0))
    d = decide(cat, pool(["dear", "cheap"]), reachable=None)
    assert d.model == "cheap"
    assert d.provider is None
    assert d.no_provider_configured is True
    assert any("no provider is configured" in n for n in d.notes)
    assert all(c.eligible for c in d.candidates)


def test_excluded_models_are_never_chosen_nor_adequate():
    cat = catalogue(model("cheap", 0.9, 0.1, 0.1), model("dear", 0.9, 5.0, 5.0))
    d = decide(cat, pool(["cheap", "dear"]), exclude=frozenset({"cheap"}))
    assert d.model == "dear"
    assert row(d, "cheap").reason == "excluded by you"
    assert row(d, "cheap").adequate is False  # the engine must not fall back to it


def test_deprecated_models_are_filtered():
    cat = catalogue(model("old", 0.9, 0.1, 0.1, status="deprecated"), model("new", 0.9, 1.0, 1.0))
    d = decide(cat, pool(["old", "new"]))
    assert d.model == "new"
    assert row(d, "old").reason == "deprecated"


# -- pin -----------------------------------------------------------------------------------------


def test_pin_uses_a_catalogue_model_even_outside_the_pool():
    cat = catalogue(model("cheap", 0.9, 0.1, 0.1), model("special", 0.2, 9.0, 9.0))
    d = decide(cat, pool(["cheap"]), pin="special")
    assert d.model == "special" and d.pinned is True
    assert d.fallback_used is False
    assert d.reason.startswith("pinned")
    assert [c.model for c in d.candidates] == ["special"]


def test_pin_accepts_a_provider_model_id():
    cat = catalogue(model("sonnet", 0.9, providers={"openrouter": "anthropic/claude-sonnet-4.5"}))
    d = decide(cat, pool(["sonnet"]), pin="anthropic/claude-sonnet-4.5")
    assert d.model == "sonnet"


def test_unreachable_pin_is_kept_with_a_note():
    cat = catalogue(model("cheap", 0.9, 0.1, 0.1), model("special", 0.9))
    d = decide(cat, pool(["cheap"]), pin="special", reachable={"cheap": "testnet"})
    assert d.model == "special" and d.provider is None
    assert any(n.startswith("pinned model special: unreachable") for n in d.notes)


def test_unknown_pin_is_a_usage_error_listing_close_matches():
    cat = catalogue(model("claude-sonnet-4.5", 0.9), model("gpt-5", 0.9))
    with pytest.raises(UsageError) as info:
        decide(cat, pool(["gpt-5"]), pin="claude-sonet-4.5")
    assert "unknown model 'claude-sonet-4.5'" in str(info.value)
    assert "did you mean claude-sonnet-4.5" in str(info.value)
    assert not isinstance(info.value, NoCandidate)


# -- sticky sessions ---------------------------------------------------------------------------


def sticky_catalogue(incumbent_price: float) -> Catalogue:
    return catalogue(
        model("new", 0.7, 1.0, 1.0),  # $0.002 for IN + OUT
        model("current", 0.8, incumbent_price, incumbent_price, cached=incumbent_price / 10),
    )


def test_session_keeps_its_model_while_adequate_and_not_much_dearer():
    cat = sticky_catalogue(1.5)  # $0.003 vs $0.002: 1.5x, under the factor 2
    p = pool(["new", "current"])
    assert decide(cat, p).model == "new"
    d = decide(cat, p, current_model="current")
    assert d.model == "current" and d.sticky is True
    assert d.reason.startswith("kept the session's model current")
    assert "new is not more than 2x cheaper ($0.002 vs $0.003" in d.reason


def test_session_switches_when_the_new_pick_is_cheaper_by_more_than_the_factor():
    cat = sticky_catalogue(2.5)  # $0.005 > 2 x $0.002
    d = decide(cat, pool(["new", "current"]), current_model="current")
    assert d.model == "new" and d.sticky is False
    assert "switched from current: $0.005 is more than 2x $0.002" in d.reason


def test_session_drops_its_model_once_it_no_longer_meets_the_bar():
    cat = sticky_catalogue(1.5)
    d = decide(cat, pool(["new", "current"], bar=0.75), current_model="new")
    assert d.model == "current"  # "new" (0.7) is below 0.75 now; "current" (0.8) meets it
    assert d.sticky is False
    assert "left new: below the bar 0.75" in d.reason


def test_session_model_outside_the_remaining_set_is_not_kept():
    cat = sticky_catalogue(1.5)
    d = decide(cat, pool(["new", "current"]), current_model="current", reachable={"new": "t"})
    assert d.model == "new" and d.sticky is False


def test_cached_prompt_counts_at_the_cached_price_for_the_incumbent_only():
    cat = sticky_catalogue(2.5)  # uncached: $0.005 > 2 x $0.002, a switch would pay
    p = pool(["new", "current"])
    d = decide(cat, p, current_model="current", cached_input_tokens=900)
    # 100 fresh x 2.5 + 900 cached x 0.25 + 1000 out x 2.5 = $0.002975 < 2 x $0.002
    assert d.model == "current" and d.sticky is True
    assert d.estimated_cost_usd == pytest.approx(0.002975)
    assert row(d, "new").estimated_cost_usd == pytest.approx(0.002)  # a switch pays full input
    assert row(d, "current").reason.endswith("(session's model: cached prompt)")


# -- never below balanced ----------------------------------------------------------------------


def test_low_task_margin_uses_the_fallback():
    cat = catalogue(model("cheap", 0.9, 0.1, 0.1), model("balanced", 0.6, 1.0, 1.0))
    p = pool(["cheap"], fallback="balanced", min_margin=0.1)
    assert decide(cat, p, margin=0.1).model == "cheap"  # at the threshold: sure enough
    d = decide(cat, p, margin=0.05)
    assert d.model == "balanced" and d.fallback_used is True
    assert d.reason == (
        "the classifier is unsure of the task (margin 0.05 < 0.10), so using the "
        "auto-efficient tier's fallback balanced rather than guess"
    )
    assert "balanced" in [c.model for c in d.candidates]  # shown in --explain


def test_cell_without_a_figure_for_the_pick_uses_the_fallback():
    cat = catalogue(model("unknown", None, 0.1, 0.1), model("balanced", 0.3, 1.0, 1.0))
    d = decide(cat, pool(["unknown"], bar=0.5, fallback="balanced"))
    assert d.model == "balanced" and d.fallback_used is True
    assert d.reason.startswith("unknown has no skill figure for debug/hard")


def test_fallback_chain_takes_the_first_that_passes_the_filters():
    cat = catalogue(model("cheap", 0.9, 0.1, 0.1), model("fb1", 0.6), model("fb2", 0.6))
    p = pool(["cheap"], fallback="fb1", chain=("fb1", "fb2"))
    d = decide(cat, p, margin=0.0, reachable={"cheap": "t", "fb2": "t"})
    assert d.model == "fb2" and d.fallback_used is True


def test_unavailable_fallback_keeps_the_pick_with_a_note():
    cat = catalogue(model("cheap", 0.9, 0.1, 0.1), model("fb", 0.6))
    d = decide(cat, pool(["cheap"], fallback="fb"), margin=0.0, exclude=frozenset({"fb"}))
    assert d.model == "cheap" and d.fallback_used is False
    assert any("no fallback model of the auto-efficient tier is available" in n for n in d.notes)


def test_unsure_turn_keeps_an_adequate_session_model_at_least_as_skilled_as_the_fallback():
    cat = catalogue(model("cheap", 0.9, 0.1, 0.1), model("cur", 0.8), model("fb", 0.6))
    p = pool(["cheap", "cur"], fallback="fb")
    d = decide(cat, p, margin=0.0, current_model="cur")
    assert d.model == "cur" and d.sticky is True and d.fallback_used is False
    weaker = catalogue(model("cheap", 0.9, 0.1, 0.1), model("cur", 0.55), model("fb", 0.6))
    assert decide(weaker, p, margin=0.0, current_model="cur").model == "fb"


# -- ordered rule and frontier -----------------------------------------------------------------


def test_ordered_rule_takes_the_first_remaining_model_in_pool_order():
    cat = catalogue(model("first", 0.1, 9.0, 9.0), model("second", 0.9, 0.1, 0.1))
    p = pool(["first", "second"], rule="ordered", name="frontier")
    d = decide(cat, p, margin=0.0)  # low margin does not matter for a fixed order
    assert d.model == "first" and d.fallback_used is False
    assert d.reason == "first is the first available model of the frontier tier"
    assert row(d, "first").adequate is False and row(d, "second").adequate is True
    d = decide(cat, p, reachable={"second": "t"})
    assert d.model == "second"
    assert d.reason.endswith("; skipped first (unreachable)")


def test_frontier_model_and_cost_for_the_same_request_and_reachability():
    cat = catalogue(
        model("cheap", 0.9, 0.1, 0.1),
        model("opus", 0.9, 5.0, 25.0),
        model("gpt", 0.9, 1.25, 10.0),
    )
    frontier = pool(["opus", "gpt"], rule="ordered", name="frontier")
    d = decide(cat, pool(["cheap"]), frontier=frontier)
    assert (d.frontier_model, d.frontier_cost_usd) == ("opus", pytest.approx(0.03))
    d = decide(cat, pool(["cheap"]), frontier=frontier, reachable={"cheap": "t", "gpt": "t"})
    assert (d.frontier_model, d.frontier_cost_usd) == ("gpt", pytest.approx(0.01125))
    # the frontier is a yardstick: the per-turn cap does not apply to it
    d = decide(cat, pool(["cheap"]), frontier=frontier, max_cost_usd=0.001)
    assert d.frontier_model == "opus"
    assert decide(cat, pool(["cheap"])).frontier_model is None


# -- prices --------------------------------------------------------------------------------------


def test_unpriced_model_is_never_shown_as_zero_nor_proven_cheapest():
    cat = catalogue(
        model("mystery", 0.9, None, None, providers={"nowhere": "mystery-1"}),
        model("priced", 0.9, 3.0, 3.0),
        model("free", 0.9, 0.0, 0.0),
    )
    d = decide(cat, pool(["mystery", "priced"]))
    assert d.model == "priced"
    assert row(d, "mystery").estimated_cost_usd is None
    d = decide(cat, pool(["mystery"]))
    assert d.model == "mystery" and d.estimated_cost_usd is None
    assert "no adequate model has a known price" in d.reason
    assert decide(cat, pool(["mystery", "free"])).estimated_cost_usd == 0.0
    capped = decide(cat, pool(["mystery", "priced"]), max_cost_usd=1.0)
    assert row(capped, "mystery").reason == "unpriced: cannot prove it fits --max-cost $1.00"


def test_missing_bar_in_a_pool_is_a_pool_error():
    cat = catalogue(model("a", 0.9))
    p = pool(["a"])
    broken = TierPool(**{**p.__dict__, "bars": {"easy": 0.5}})
    with pytest.raises(PoolError, match=r"bars\.hard is missing"):
        decide(cat, broken)


# -- output --------------------------------------------------------------------------------------


def test_to_json_has_the_stable_keys_rounded_and_round_trips():
    cat = catalogue(model("a", 0.612345, 1.0, 1.0), model("b", 0.3, 0.1, 0.1))
    frontier = pool(["a"], rule="ordered", name="frontier")
    d = decide(cat, pool(["a", "b"]), frontier=frontier)
    data = json.loads(json.dumps(d.to_json()))
    for key in (*STABLE_JSON_KEYS, "reason", "sticky", "notes"):
        assert key in data, key
    for c in data["candidates"]:
        assert set(c) >= STABLE_CANDIDATE_KEYS
    assert data["task_probs"]["edit"] == 0.05  # 0.4 / 8, no float noise
    assert data["candidates"][0]["skill"] == 0.6123
    assert data["estimated_cost_usd"] == 0.002
    restored = Decision(**{**data, "candidates": [Candidate(**c) for c in data["candidates"]]})
    assert restored.model == d.model and restored.candidates[0].model == "a"


def test_route_takes_well_under_a_millisecond_for_twenty_models():
    specs = [model(f"m{i}", 0.3 + i * 0.03, 0.1 * (i + 1), 0.2 * (i + 1)) for i in range(20)]
    cat = catalogue(*specs, model("balanced", 0.6))
    p = pool([s.id for s in specs])
    frontier = pool([s.id for s in specs[-4:]], rule="ordered", name="frontier")
    c = Constraints(reachable=everywhere(cat), current_model="m15", cached_input_tokens=500)
    req, cls = RouteRequest(input_tokens=2_000), classified()
    route(cls, req, p, cat, c, frontier=frontier)  # warm
    times = []
    for _ in range(50):
        start = time.perf_counter()
        route(cls, req, p, cat, c, frontier=frontier)
        times.append(time.perf_counter() - start)
    times.sort()
    assert times[len(times) // 2] < 0.001, f"median {times[len(times) // 2] * 1e6:.0f} us"


# -- never below balanced ------------------------------------------------------------------------


def floored(models: list[str], *, tolerance: float = 0.02, bar: float = 0.5) -> TierPool:
    p = pool(models, bar=bar, fallback="balanced")
    return TierPool(**{**p.__dict__, "floor_tolerance": tolerance})


def test_a_cheap_model_below_the_balanced_floor_is_not_adequate():
    # today's failure: nano clears the bar in an extrapolated cell and is chosen, though it
    # solves far less than the balanced model
    cat = catalogue(
        model("nano", 0.60, 0.1, 0.1), model("balanced", 0.80), model("top", 0.9, 10, 10)
    )
    assert decide(cat, pool(["nano", "balanced", "top"])).model == "nano"
    d = decide(cat, floored(["nano", "balanced", "top"]))
    assert d.model == "balanced"
    assert not row(d, "nano").adequate
    assert "below the balanced floor 0.78" in row(d, "nano").reason


def test_a_cheap_model_within_the_tolerance_is_still_chosen():
    cat = catalogue(model("mini", 0.79, 0.1, 0.1), model("balanced", 0.80))
    assert decide(cat, floored(["mini", "balanced"])).model == "mini"


def test_never_below_balanced_holds_on_random_pools():
    import random

    rng = random.Random(7)
    for case in range(300):
        specs = [model("balanced", rng.uniform(0.1, 0.95), 1.0, 1.0)]
        for i in range(rng.randint(1, 6)):
            price = rng.choice([0.05, 0.2, 0.5, 2.0, 8.0])
            specs.append(model(f"m{i}", rng.uniform(0.05, 0.98), price, price))
        cat = catalogue(*specs)
        tolerance = rng.choice([0.0, 0.02, 0.05])
        p = floored([s.id for s in specs], tolerance=tolerance, bar=rng.uniform(0.1, 0.9))
        d = decide(cat, p)
        balanced = cat.models["balanced"].skills[(TASK, DIFF)].value
        assert d.skill is not None and d.skill >= balanced - tolerance - 1e-9, case
        # and never a model another candidate beats on both price and skill
        chosen = row(d, d.model)
        for c in d.candidates:
            if c.model == d.model or c.estimated_cost_usd is None or c.skill is None:
                continue
            dominated = c.estimated_cost_usd <= chosen.estimated_cost_usd and c.skill > d.skill
            assert not (dominated and c.adequate), (case, c.model)
