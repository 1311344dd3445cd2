"""The what-if replay over a real store and the real router (no encoder needed: the stored
classification is replayed, not recomputed)."""

from __future__ import annotations

import pytest

from kilocli.app import App
from kilocli.config import get_paths
from kilocli.routing.classifier import Classification
from kilocli.routing.cost import usage_cost
from kilocli.settings import Settings
from kilocli.store import Store
from kilocli.whatif import classification_of, replay


def _classification(task: str, difficulty: str) -> Classification:
    from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

    task_probs = {t: (0.9 if t == task else 0.1 / (len(TASKS) - 1)) for t in TASKS}
    diff_probs = {d: (0.8 if d == difficulty else 0.1) for d in DIFFICULTIES}
    return Classification(task, difficulty, task_probs, diff_probs, 0.8, 0.7)


def _record(store: Store, sid: str, decision: dict, tokens: tuple[int, int] | None, cost=None):
    turn = store.start_turn(sid, "a prompt", decision=decision)
    store.finish_turn(
        turn,
        answer="an answer" if tokens else "",
        status="ok" if tokens else "incomplete",
        decision=decision,
        model=decision.get("model", "unknown"),
        provider=None,
        usage=None if tokens is None else {"input_tokens": tokens[0], "output_tokens": tokens[1]},
        estimated_cost_usd=decision.get("estimated_cost_usd"),
        cost_usd=cost,
        frontier_cost_usd=None,
        latency_ms=1,
    )


def test_replay_prices_real_tokens_at_the_other_models_rates():
    paths = get_paths()
    router = App(paths, Settings(), env={}).router()
    balanced = router.decide_classified(
        _classification("debug", "hard"), tier="balanced", input_tokens=2000
    )
    frontier = router.decide_classified(
        _classification("debug", "hard"), tier="frontier", input_tokens=2000
    )
    assert balanced.model != frontier.model
    with Store(paths.database) as store:
        sid = store.new_session("ask", "balanced")
        _record(store, sid, balanced.to_json(), (2000, 800), cost=0.001)
        _record(store, sid, balanced.to_json(), None)  # no usage: estimated both sides
        pinned = {**balanced.to_json(), "pinned": True}
        _record(store, sid, pinned, (100, 10), cost=0.0002)
        _record(store, sid, {"model": balanced.model, "task": "debug"}, (5, 5), cost=0.0001)
        turns = store.turns_for_replay()
    result = replay(
        turns,
        "frontier",
        lambda c, n: router.decide_classified(c, tier="frontier", input_tokens=n),
        router.catalogue,
    )
    spec = router.catalogue.models[frontier.model]
    pinned_spec = router.catalogue.models[balanced.model]
    expected = (
        usage_cost(spec, 2000, 800)
        + frontier.estimated_cost_usd
        + usage_cost(pinned_spec, 100, 10)  # a pinned turn keeps its model
    )
    assert (result.turns, result.estimated, result.skipped, result.changed) == (3, 1, 1, 2)
    assert result.actual_cost_usd == pytest.approx(0.001 + balanced.estimated_cost_usd + 0.0002)
    assert result.what_if_cost_usd == pytest.approx(expected)
    assert result.to_json()["by_model"][0]["model"] == frontier.model


def test_a_decision_without_its_classification_is_not_replayed():
    assert classification_of({"task": "edit"}) is None
    assert classification_of({}) is None
