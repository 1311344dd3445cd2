"""bench/route_outcomes.py: outcome file checks, scoring, baselines, frontier and hull gap (its
end-to-end run with the real classifier: tests/e2e/bench/test_route_outcomes.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from outcome_rows import (
    COSTS,
    DEEPSEEK,
    NANO,
    OPUS,
    POOL,
    load_bench,
    outcome_row,
    write_outcomes,
)

from kilocli.routing.pools import shift_bar


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench()


@pytest.fixture
def fixture_file(tmp_path: Path) -> Path:
    return write_outcomes(tmp_path)


@pytest.fixture
def instances(bench, fixture_file):
    return bench.load_instances(fixture_file)


# -- loading -------------------------------------------------------------------------------------


def test_load_reads_every_instance(bench, instances):
    assert [i.id for i in instances] == ["i1", "i2", "i3", "i4"]
    assert [i.line for i in instances] == [1, 2, 3, 4]
    assert instances[2].resolved == {NANO: False, DEEPSEEK: False, OPUS: True}
    assert instances[2].cost == COSTS
    assert bench.outcome_models(instances) == [NANO, DEEPSEEK, OPUS]


def test_lines_split_on_newline_only(bench, tmp_path):
    # JSON allows U+2028 and a form feed unescaped inside a string
    row = {**outcome_row("i1"), "problem_statement": "before\u2028after\x0cend"}
    odd = json.dumps(row, ensure_ascii=False).replace("\\f", "\x0c")
    assert "\u2028" in odd and "\x0c" in odd
    path = tmp_path / "odd.jsonl"
    path.write_text(odd + "\r\n" + json.dumps(outcome_row("i2")) + "\n", encoding="utf-8")
    one, two = bench.load_instances(path)
    assert one.problem == "before\u2028after\x0cend" and two.line == 2


def test_mapping_covers_the_outcome_names(bench):
    assert bench.outcome_name("deepseek-v3.2") == DEEPSEEK
    assert bench.catalogue_id(DEEPSEEK) == "deepseek-v3.2"
    assert bench.outcome_name("gpt-5-nano") == NANO
    assert len(bench.OUTCOME_NAME) == 12


def _bad_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _without(key: str) -> str:
    row = outcome_row("i3")
    del row[key]
    return json.dumps(row)


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        ([json.dumps(outcome_row("i1")), "{not json"], 2, "invalid JSON"),
        (
            [json.dumps(outcome_row("i1")), json.dumps(outcome_row("i2")), _without("cost_usd")],
            3,
            "cost_usd",
        ),
        ([_without("problem_statement")], 1, "problem_statement"),
        ([json.dumps({**outcome_row("i1"), "resolved": {NANO: "yes"}})], 1, "resolved"),
        ([json.dumps({**outcome_row("i1"), "cost_usd": {NANO: 0.1}})], 1, "same models"),
        ([json.dumps(outcome_row("i1")), json.dumps(outcome_row("i1"))], 2, "duplicate"),
        (["[1, 2]"], 1, "JSON object"),
    ],
)
def test_bad_input_names_file_and_line(bench, tmp_path, capsys, lines, line, words):
    path = _bad_file(tmp_path, lines)
    with pytest.raises(bench.UsageError, match=words) as info:
        bench.load_instances(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    # through main: one line on stderr, exit 2, no traceback (fails before the encoder loads)
    assert bench.main([str(path), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:{line}: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_file_is_one_line_error(bench, tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    assert bench.main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {missing}: file not found\n"


# -- scoring and baselines -------------------------------------------------------------------------


def test_baselines_exact(bench, instances):
    got = [(b.model, b.score.solved, b.solved_pct, b.cost_usd) for b in bench.baselines(instances)]
    assert got == [(NANO, 1, 25.0, 0.5), (DEEPSEEK, 2, 50.0, 1.0), (OPUS, 3, 75.0, 4.0)]
    assert all(b.score.no_outcome == 0 for b in bench.baselines(instances))


def test_score_maps_catalogue_ids_and_counts_missing_outcomes(bench, instances):
    s = bench.score(instances, ["deepseek-v3.2", "claude-haiku-4.5", "claude-opus-4.5", None])
    assert (s.solved, s.cost_usd, s.no_outcome) == (2, 1.25, 2)
    assert s.solved_pct == 50.0


# -- frontier and hull gap -----------------------------------------------------------------------


def test_frontier_points_and_marks(bench, instances):
    bases = bench.baselines(instances)
    points = [(b.cost_usd, b.solved_pct) for b in bases]
    assert bench.upper_hull(points) == [(0.5, 25.0), (1.0, 50.0), (4.0, 75.0)]
    assert bench.frontier_marks(bases) == {NANO: "hull", DEEPSEEK: "hull", OPUS: "hull"}


def test_pareto_and_hull_drop_dominated_and_concave_violations(bench):
    points = [(1.0, 10.0), (2.0, 10.0), (3.0, 40.0), (4.0, 30.0), (5.0, 50.0), (9.0, 60.0)]
    # (2,10) is dominated by (1,10), (4,30) by (3,40)
    assert bench.pareto(points) == [(1.0, 10.0), (3.0, 40.0), (5.0, 50.0), (9.0, 60.0)]
    # (5,50) is above the chord (3,40)-(9,60), which gives 46.67 at cost 5: a vertex
    assert bench.upper_hull(points) == [(1.0, 10.0), (3.0, 40.0), (5.0, 50.0), (9.0, 60.0)]
    # a point under the chord is non-dominated but not a hull vertex
    assert bench.upper_hull([(1.0, 10.0), (2.0, 12.0), (3.0, 40.0)]) == [(1.0, 10.0), (3.0, 40.0)]


def test_frontier_at_is_linear_inside_and_flat_outside(bench):
    hull = [(0.5, 25.0), (1.0, 50.0), (4.0, 75.0)]
    assert bench.frontier_at(hull, 0.0) == 25.0
    assert bench.frontier_at(hull, 0.75) == 37.5
    assert bench.frontier_at(hull, 2.5) == 62.5
    assert bench.frontier_at(hull, 100.0) == 75.0


def test_hull_gap_for_known_choices(bench, instances):
    hull = bench.upper_hull([(b.cost_usd, b.solved_pct) for b in bench.baselines(instances)])

    def gap(choices):
        return bench.hull_gap(hull, bench.score(instances, choices))

    assert gap(["gpt-5-nano"] * 4) == 0.0  # the cheapest point itself
    assert gap(["deepseek-v3.2"] * 4) == 0.0  # another frontier point
    # each instance to the cheapest model that solves it: 75% for $1.50; frontier at $1.50 is
    # 50 + 25 * 0.5 / 3 = 54.1667%, so the gap is +20.8333 pp
    better = ["gpt-5-nano", "deepseek-v3.2", "claude-opus-4.5", "gpt-5-nano"]
    assert gap(better) == pytest.approx(75.0 - (50.0 + 25.0 * 0.5 / 3))
    assert gap(better) > 20.8
    # the expensive model on the one instance nobody solves: 25% for $1.375, frontier 53.125%
    assert gap(["gpt-5-nano"] * 3 + ["claude-opus-4.5"]) == -28.125
    # nothing measured: 0% for $0, under the cheapest point's 25%
    assert gap(["claude-haiku-4.5"] * 4) == -25.0


# -- bars and the report assembly (fake router) ----------------------------------------------------


def test_shift_bar():
    assert shift_bar(0.7, 0.0) == pytest.approx(0.7)
    assert shift_bar(0.5, math.log(3)) == pytest.approx(0.75)
    assert shift_bar(0.5, -math.log(3)) == pytest.approx(0.25)
    assert shift_bar(0.0, 2.0) == 0.0 and shift_bar(1.0, -2.0) == 1.0


def test_evaluate_with_a_fake_router(bench, instances):
    pool = SimpleNamespace(
        name="fake", models=("gpt-5-nano", "claude-opus-4.5"), bars={"easy": 0.5, "hard": 0.5}
    )
    seen: list[dict[str, float]] = []

    def route_all(bars):
        seen.append(bars)
        # above 0.5 the fake router buys the strong model
        pick = "claude-opus-4.5" if bars["easy"] > 0.5 + 1e-9 else "gpt-5-nano"
        return [pick] * len(instances), 1

    labels = [SimpleNamespace(task="debug", difficulty="hard")] * len(instances)
    r = bench.evaluate(instances, labels, route_all, pool, bar_shift=0.0, curve=True)
    assert r["routed"]["solved_pct"] == 25.0 and r["routed"]["hull_gap"] == 0.0
    assert r["routed"]["solved_ge_balanced"] is False
    assert r["routed"]["models"] == {"gpt-5-nano": 4}
    assert r["predicted_difficulty"] == {"hard": 4}
    assert [row["shift"] for row in r["curve"]] == list(bench.CURVE_SHIFTS)
    assert len(seen) == 1 + len(bench.CURVE_SHIFTS)
    top = r["curve"][-1]
    assert top["solved_pct"] == 75.0 and top["cost_usd"] == 4.0 and top["hull_gap"] == 0.0
    assert top["bars"]["easy"] == pytest.approx(1 / (1 + math.exp(-2.0)), abs=1e-4)
    text = bench.format_report({**r, "file": "x", "notes": [], "classify_ms_per_item": 1.0})
    assert "solved >= balanced: no" in text and "bar-shift curve" in text


# -- end to end with the real classifier ---------------------------------------------------------


def test_pool_file_loads(bench):
    from kilocli.routing.pools import load_catalogue, load_pool_file

    catalogue = load_catalogue()
    pool = load_pool_file(POOL, catalogue)
    assert pool.rule == "cheapest_adequate"
    assert pool.fallback_chain == ("deepseek-v3.2", "gpt-5-mini")
    assert len(pool.models) == 11
    assert all(catalogue.models[m].status == "active" for m in pool.models)
    assert set(pool.models) | {"gemini-3-pro-preview"} == set(bench.OUTCOME_NAME)
