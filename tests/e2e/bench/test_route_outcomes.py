"""bench/route_outcomes.py end to end: the real classifier routes the outcome rows over
pools/swebench-measured.toml and the JSON report adds up."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from outcome_rows import DEEPSEEK, NANO, OPUS, POOL, load_bench, write_outcomes


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench()


@pytest.fixture
def fixture_file(tmp_path: Path) -> Path:
    return write_outcomes(tmp_path)


def test_end_to_end_json(bench, fixture_file, kilo, capsys):
    # `kilo` points KILOCLI_HOME at a home sharing the warmed encoder cache
    assert bench.main([str(fixture_file), "--pool", str(POOL), "--json"]) == 0
    out = capsys.readouterr().out
    r = json.loads(out)
    assert r["file_instances"] == 4
    assert r["pool"] == "swebench-measured"
    for key in ("routed", "baselines", "frontier", "balanced", "predicted_task", "bars"):
        assert key in r
    routed = r["routed"]
    for key in ("solved_pct", "cost_usd", "hull_gap", "no_outcome", "models", "fallback_used"):
        assert key in routed
    assert sum(routed["models"].values()) == 4
    measured = {"gpt-5-nano", "deepseek-v3.2", "claude-opus-4.5"}
    unmeasured = sum(n for m, n in routed["models"].items() if m not in measured)
    assert routed["no_outcome"] == unmeasured
    assert [(b["model"], b["solved_pct"], b["cost_usd"]) for b in r["baselines"]] == [
        (NANO, 25.0, 0.5),
        (DEEPSEEK, 50.0, 1.0),
        (OPUS, 75.0, 4.0),
    ]
    assert r["balanced"] == {"model": DEEPSEEK, "solved_pct": 50.0, "cost_usd": 1.0}
    assert sum(r["predicted_task"].values()) == 4
