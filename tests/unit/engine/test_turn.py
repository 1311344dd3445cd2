"""The engine runs a decided turn over real HTTP (the loopback fake server) and records it; the
outcome carries the frontier cost the store records, computed once (no encoder: the turn is
decided from a hand-made classification)."""

from __future__ import annotations

import pytest

from kilocli.app import App
from kilocli.config import get_paths
from kilocli.routing.classifier import Classification
from kilocli.routing.cost import usage_cost
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS
from kilocli.settings import Settings

KEY = "sk-test-0123456789abcdef"


def _debug_hard() -> Classification:
    task_probs = {t: (0.9 if t == "debug" else 0.1 / (len(TASKS) - 1)) for t in TASKS}
    diff_probs = {d: (0.8 if d == "hard" else 0.1) for d in DIFFICULTIES}
    return Classification("debug", "hard", task_probs, diff_probs, 0.8, 0.7)


def _run(fake_server, **answer):
    fake_server.script(answer="Guard the empty list first.", **answer)
    app = App(
        get_paths(),
        Settings(),
        env={"OPENAI_BASE_URL": fake_server.url, "OPENAI_API_KEY": KEY},
    )
    decision = app.router().decide_classified(
        _debug_hard(), tier="auto-efficient", input_tokens=1_000
    )
    with app.store() as store:
        engine = app.engine(store)
        session = store.new_session("ask", "auto-efficient", "t")
        outcome = engine.run_turn(session, [], "why does parse() fail?", decision)
        engine.provider_cache.close()
        recorded = store.session(session).turns[0]
    return app, decision, outcome, recorded


def test_the_outcome_carries_the_frontier_cost_the_store_records(fake_server):
    app, decision, outcome, recorded = _run(
        fake_server, input_tokens=1_000, output_tokens=300, reasoning_tokens=100
    )
    assert outcome.status == "ok" and decision.frontier_model not in (None, decision.model)
    spec = app.catalogue().models[decision.frontier_model]
    expected = usage_cost(spec, 1_000, 300, 0, 100)
    assert expected is not None and expected > 0
    assert outcome.frontier_cost_usd == pytest.approx(expected)
    assert recorded.frontier_cost_usd == pytest.approx(expected)
    # the actual usage, not the routing estimate, is what the frontier is priced on
    assert outcome.frontier_cost_usd != pytest.approx(decision.frontier_cost_usd)


def test_no_reported_usage_gives_no_frontier_cost_and_the_store_keeps_the_estimate(fake_server):
    _, decision, outcome, recorded = _run(fake_server, usage=False)
    assert outcome.status == "ok" and not outcome.has_usage
    assert outcome.frontier_cost_usd is None  # the chat's saving counts only priced turns
    assert recorded.frontier_cost_usd == pytest.approx(decision.frontier_cost_usd)
