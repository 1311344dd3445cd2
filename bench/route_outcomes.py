"""Routing against real outcomes: SWE-bench instances with every model's measured result.

Each line of FILE is one SWE-bench instance with, for every measured model, whether its agent run
resolved the instance and what the run cost (``resolved`` {model: bool}, ``cost_usd`` {model: USD}).
The script classifies every ``problem_statement`` with the project's real classifier, routes it over
a pool (default pools/swebench-measured.toml) with no provider configured, and scores the router's
own choice with that instance's real outcome for the chosen model. It compares the result with every
always-one-model policy and with their cost/quality frontier:

  baselines   one per outcome model: share of instances solved and total cost over the file
  frontier    the non-dominated baselines (no other is as cheap and solves as many, one strictly),
              joined by the upper concave envelope through (cost, solved %), linear between points,
              flat beyond the most expensive and before the cheapest
  hull gap    router solved % minus the frontier's solved % at the router's total cost, in
              percentage points: positive means routing beats every mix of single models

A choice with no outcome for its instance (a model the file does not measure) counts as unsolved at
no cost, and the report says how many there were. It is a measurement, not a test: the exit code is
0 whatever the figures (2 on bad input).

    python bench/route_outcomes.py                          # ../shared/data/swebench_dev.jsonl
    python bench/route_outcomes.py FILE --json              # all figures as one JSON object
    python bench/route_outcomes.py --bar-shift 0.5          # bars moved +0.5 logit
    python bench/route_outcomes.py --curve                  # shifts -2..2: solved %, $, hull gap
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):  # run as a script from anywhere; the bench's own helpers
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_io import jsonl_lines, print_report  # noqa: E402

from kilocli.errors import KiloError, UsageError  # noqa: E402
from kilocli.routing.pools import shift_bar  # noqa: E402

DEFAULT_FILE = REPO.parent / "shared" / "data" / "swebench_dev.jsonl"
DEFAULT_POOL = REPO / "pools" / "swebench-measured.toml"
BALANCED = "deepseek-v3.2"  # the balanced tier's model: the baseline routing has to beat
CURVE_SHIFTS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
# catalogue id -> model name in the outcome file, for every measured model; ids not listed here
# are looked up under their own name
OUTCOME_NAME: dict[str, str] = {
    "gpt-5-nano": "gpt-5-nano",
    "gpt-oss-120b": "gpt-oss-120b",
    "deepseek-v3.2": "deepseek-v3.2-reasoner",  # measured in reasoner mode
    "gpt-5-mini": "gpt-5-mini",
    "glm-4.6": "glm-4.6",
    "qwen3-coder-480b": "qwen3-coder-480b",
    "minimax-m2": "minimax-m2",
    "gpt-5": "gpt-5",
    "gpt-5.1": "gpt-5.1",
    "gemini-3-pro-preview": "gemini-3-pro-preview",
    "claude-sonnet-4.5": "claude-sonnet-4.5",
    "claude-opus-4.5": "claude-opus-4.5",
}
_EPS = 1e-9


def outcome_name(model: str) -> str:
    return OUTCOME_NAME.get(model, model)


def catalogue_id(name: str) -> str:
    """Outcome-file model name -> catalogue id (the inverse of OUTCOME_NAME)."""
    for ident, outcome in OUTCOME_NAME.items():
        if outcome == name:
            return ident
    return name


# ------------------------------------------------------------ outcome file


@dataclass(frozen=True)
class Instance:
    id: str
    problem: str
    resolved: dict[str, bool]  # outcome model name -> resolved
    cost: dict[str, float]  # outcome model name -> USD of the run
    difficulty: str | None  # SWE-bench's own time estimate, when the line has one
    line: int


def parse_line(text: str, path: Path, line: int) -> Instance:
    """One JSONL line -> Instance; anything malformed is a one-line UsageError naming its line."""
    where = f"{path}:{line}"
    try:
        obj = json.loads(text, strict=False)  # raw control characters in strings: accepted
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: invalid JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected a JSON object")
    for key in ("instance_id", "problem_statement", "resolved", "cost_usd"):
        if key not in obj:
            raise UsageError(f"{where}: missing key '{key}'")
    ident, problem = obj["instance_id"], obj["problem_statement"]
    if not isinstance(ident, str) or not ident.strip():
        raise UsageError(f"{where}: 'instance_id' must be a non-empty string")
    if not isinstance(problem, str) or not problem.strip():
        raise UsageError(f"{where}: 'problem_statement' must be a non-empty string")
    resolved, cost = obj["resolved"], obj["cost_usd"]
    if not isinstance(resolved, dict) or not all(isinstance(v, bool) for v in resolved.values()):
        raise UsageError(f"{where}: 'resolved' must be an object of model: true/false")
    if not isinstance(cost, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
        for v in cost.values()
    ):
        raise UsageError(f"{where}: 'cost_usd' must be an object of model: USD >= 0")
    if set(resolved) != set(cost):
        odd = sorted(set(resolved) ^ set(cost))
        raise UsageError(
            f"{where}: 'resolved' and 'cost_usd' must name the same models (differ on "
            f"{', '.join(odd)})"
        )
    difficulty = obj.get("difficulty")
    return Instance(
        id=ident,
        problem=problem,
        resolved=dict(resolved),
        cost={k: float(v) for k, v in cost.items()},
        difficulty=difficulty if isinstance(difficulty, str) else None,
        line=line,
    )


def load_instances(path: Path) -> list[Instance]:
    """Read and validate an outcome file; instance ids must be unique. Errors name file and line."""
    items: list[Instance] = []
    seen: dict[str, int] = {}
    for lineno, raw in jsonl_lines(path):
        item = parse_line(raw, path, lineno)
        if item.id in seen:
            raise UsageError(
                f"{path}:{lineno}: duplicate instance_id '{item.id}' "
                f"(first on line {seen[item.id]})"
            )
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise UsageError(f"{path}: no instances")
    return items


def outcome_models(instances: Sequence[Instance]) -> list[str]:
    """Every model any instance has an outcome for, in first-seen order."""
    return list(dict.fromkeys(m for i in instances for m in i.resolved))


# ------------------------------------------------------------ scoring


@dataclass(frozen=True)
class Score:
    n: int
    solved: int
    cost_usd: float
    no_outcome: int  # choices with no outcome for their instance (or no choice): counted unsolved

    @property
    def solved_pct(self) -> float:
        return 100.0 * self.solved / self.n if self.n else 0.0


def score(instances: Sequence[Instance], choices: Sequence[str | None]) -> Score:
    """Score one catalogue-id choice per instance (None: nothing chosen) by the real outcomes."""
    solved, cost, missing = 0, 0.0, 0
    for inst, model in zip(instances, choices, strict=True):
        name = None if model is None else outcome_name(model)
        if name is None or name not in inst.resolved:
            missing += 1
            continue
        solved += inst.resolved[name]
        cost += inst.cost[name]
    return Score(len(instances), solved, cost, missing)


@dataclass(frozen=True)
class Baseline:
    model: str  # outcome name
    score: Score

    @property
    def cost_usd(self) -> float:
        return self.score.cost_usd

    @property
    def solved_pct(self) -> float:
        return self.score.solved_pct


def baselines(instances: Sequence[Instance], models: Sequence[str] | None = None) -> list[Baseline]:
    """Every always-one-model policy (outcome names; default all), sorted by total cost."""
    out = [
        Baseline(m, score(instances, [catalogue_id(m)] * len(instances)))
        for m in (outcome_models(instances) if models is None else models)
    ]
    return sorted(out, key=lambda b: (b.cost_usd, -b.solved_pct, b.model))


# ------------------------------------------------------------ frontier


Point = tuple[float, float]  # (total cost USD, solved %)


def pareto(points: Sequence[Point]) -> list[Point]:
    """Points no other point dominates (cost <= and solved >=, one strictly), sorted by cost."""
    keep = [
        p
        for p in points
        if not any(q[0] <= p[0] and q[1] >= p[1] and (q[0] < p[0] or q[1] > p[1]) for q in points)
    ]
    return sorted(set(keep))


def upper_hull(points: Sequence[Point]) -> list[Point]:
    """Vertices of the upper concave envelope of the non-dominated points, by cost."""
    hull: list[Point] = []
    for p in pareto(points):
        while len(hull) >= 2:
            (ax, ay), (bx, by) = hull[-2], hull[-1]
            # drop b when it lies on or under the segment a -> p
            if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def frontier_at(hull: Sequence[Point], cost: float) -> float:
    """Solved % of the frontier at ``cost``: linear between vertices, flat outside them."""
    if not hull:
        raise ValueError("empty frontier")
    if cost <= hull[0][0]:
        return hull[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(hull):
        if cost <= x1:
            return y0 + (y1 - y0) * (cost - x0) / (x1 - x0)
    return hull[-1][1]


def hull_gap(hull: Sequence[Point], routed: Score) -> float:
    """Routed solved % minus the frontier's at the routed total cost (percentage points)."""
    return routed.solved_pct - frontier_at(hull, routed.cost_usd)


def frontier_marks(bases: Sequence[Baseline]) -> dict[str, str]:
    """Per baseline: "hull" (on the concave frontier), "pareto" (non-dominated, under the hull's
    chords) or "" (dominated)."""
    points = [(b.cost_usd, b.solved_pct) for b in bases]
    front = set(pareto(points))
    hull = upper_hull(points)
    marks = {}
    for b, p in zip(bases, points, strict=True):
        if p not in front:
            marks[b.model] = ""
        elif abs(frontier_at(hull, p[0]) - p[1]) < _EPS:
            marks[b.model] = "hull"
        else:
            marks[b.model] = "pareto"
    return marks


# ------------------------------------------------------------ bars


def shift_bars(bars: dict[str, float], shift: float) -> dict[str, float]:
    return {d: shift_bar(v, shift) for d, v in bars.items()}


# ------------------------------------------------------------ evaluation


def counts(values: Sequence[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        key = str(v)
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def policy_figures(
    instances: Sequence[Instance],
    choices: Sequence[str | None],
    hull: Sequence[Point],
    balanced: Baseline | None,
) -> dict[str, Any]:
    s = score(instances, choices)
    out: dict[str, Any] = {
        "solved": s.solved,
        "solved_pct": _r(s.solved_pct),
        "cost_usd": _r(s.cost_usd),
        "hull_gap": _r(hull_gap(hull, s)),
        "frontier_solved_pct_at_cost": _r(frontier_at(hull, s.cost_usd)),
        "no_outcome": s.no_outcome,
        "models": counts([c or "(no candidate)" for c in choices]),
    }
    if balanced is not None:
        out["solved_ge_balanced"] = s.solved_pct >= balanced.solved_pct
        out["cost_vs_balanced"] = (
            _r(s.cost_usd / balanced.cost_usd) if balanced.cost_usd > 0 else None
        )
    return out


def evaluate(
    instances: Sequence[Instance],
    classifications: Sequence[Any],
    route_all: Any,  # (bars) -> (choices, fallback count)
    pool: Any,
    bar_shift: float,
    curve: bool,
) -> dict[str, Any]:
    """Every figure of the report, from classifications and a routing function (no encoder)."""
    bases = baselines(instances)
    points = [(b.cost_usd, b.solved_pct) for b in bases]
    hull = upper_hull(points)
    marks = frontier_marks(bases)
    balanced_name = outcome_name(BALANCED)
    balanced = next((b for b in bases if b.model == balanced_name), None)

    bars = shift_bars(pool.bars, bar_shift)
    choices, fallbacks = route_all(bars)
    routed = policy_figures(instances, choices, hull, balanced)
    routed["fallback_used"] = fallbacks
    report: dict[str, Any] = {
        "file_instances": len(instances),
        "pool": pool.name,
        "pool_models": list(pool.models),
        "bar_shift": bar_shift,
        "bars": {d: _r(v) for d, v in bars.items()},
        "routed": routed,
        "predicted_task": counts([c.task for c in classifications]),
        "predicted_difficulty": counts([c.difficulty for c in classifications]),
        "difficulty_vs_predicted": {
            label: counts(
                [
                    c.difficulty
                    for i, c in zip(instances, classifications, strict=True)
                    if i.difficulty == label
                ]
            )
            for label in dict.fromkeys(i.difficulty for i in instances if i.difficulty)
        },
        "baselines": [
            {
                "model": b.model,
                "catalogue_id": catalogue_id(b.model),
                "solved": b.score.solved,
                "solved_pct": _r(b.solved_pct),
                "cost_usd": _r(b.cost_usd),
                "no_outcome": b.score.no_outcome,
                "frontier": marks[b.model],
            }
            for b in bases
        ],
        "frontier": [[_r(x), _r(y)] for x, y in hull],
        "balanced": None
        if balanced is None
        else {
            "model": balanced.model,
            "solved_pct": _r(balanced.solved_pct),
            "cost_usd": _r(balanced.cost_usd),
        },
    }
    if curve:
        rows = []
        for shift in CURVE_SHIFTS:
            shifted = shift_bars(pool.bars, shift)
            picks, fb = route_all(shifted)
            row = policy_figures(instances, picks, hull, balanced)
            row.update(shift=shift, bars={d: _r(v) for d, v in shifted.items()}, fallback_used=fb)
            rows.append(row)
        report["curve"] = rows
    return report


# ------------------------------------------------------------ classifier and router wiring


def load_wiring(pool_path: Path) -> tuple[Any, Any, Any, list[str]]:
    """(classifier, pool, catalogue, notes) from the project's real modules."""
    from kilocli.config import get_paths
    from kilocli.routing.classifier import Classifier
    from kilocli.routing.encoder import load_encoder
    from kilocli.routing.pools import load_catalogue, load_pool_file

    paths = get_paths()
    notes: list[str] = []
    catalogue = load_catalogue(paths)
    pool = load_pool_file(pool_path, catalogue)
    encoder = load_encoder(paths, on_note=notes.append)  # EncoderUnavailable is a KiloError
    clf = Classifier.load(encoder, paths.cache_dir)
    return clf, pool, catalogue, notes


def make_router(
    instances: Sequence[Instance], classifications: Sequence[Any], pool: Any, catalogue: Any
) -> Any:
    """(bars) -> (one chosen catalogue id or None per instance, fallback count)."""
    from kilocli.routing.cost import count_tokens
    from kilocli.routing.router import Constraints, NoCandidate, RouteRequest, route

    requests = [RouteRequest(input_tokens=count_tokens(i.problem)) for i in instances]
    constraints = Constraints()  # no provider configured: decide over the whole pool

    def route_all(bars: dict[str, float]) -> tuple[list[str | None], int]:
        shifted = dataclasses.replace(pool, bars=dict(bars))
        choices: list[str | None] = []
        fallbacks = 0
        for c, request in zip(classifications, requests, strict=True):
            try:
                decision = route(c, request, shifted, catalogue, constraints, frontier=None)
            except NoCandidate:
                choices.append(None)
                continue
            choices.append(decision.model)
            fallbacks += decision.fallback_used
        return choices, fallbacks

    return route_all


def run(path: Path, pool_path: Path, bar_shift: float, curve: bool) -> dict[str, Any]:
    instances = load_instances(path)
    clf, pool, catalogue, notes = load_wiring(pool_path)
    t0 = time.perf_counter()
    classifications = clf.classify_many([i.problem for i in instances])
    classify_s = time.perf_counter() - t0
    route_all = make_router(instances, classifications, pool, catalogue)
    report = evaluate(instances, classifications, route_all, pool, bar_shift, curve)
    report["file"] = str(path)
    report["notes"] = notes
    report["classify_ms_per_item"] = _r(1000 * classify_s / len(instances), 2)
    return report


# ------------------------------------------------------------ output


def _bars_text(bars: dict[str, float]) -> str:
    return "/".join(f"{v:.2f}" for v in bars.values())


def format_report(r: dict[str, Any]) -> str:
    p = r["routed"]
    out = [
        f"route outcomes on {r['file_instances']} instances of {r['file']} — pool {r['pool']} "
        f"({len(r['pool_models'])} models), bars {_bars_text(r['bars'])}"
        + (f" (shift {r['bar_shift']:+g} logit)" if r["bar_shift"] else "")
    ]
    out += [f"  note: {n}" for n in r["notes"]]
    out.append(f"  classification: {r['classify_ms_per_item']:.1f} ms/item")
    out += [
        "",
        f"routed solved     {p['solved_pct']:6.1f}%  ({p['solved']} of {r['file_instances']})",
        f"routed total      ${p['cost_usd']:.2f}",
        f"hull gap          {p['hull_gap']:+6.1f} pp  (frontier at ${p['cost_usd']:.2f}: "
        f"{p['frontier_solved_pct_at_cost']:.1f}%; positive beats every single-model mix)",
        f"no outcome        {p['no_outcome']}  (chosen model not measured: counted unsolved, $0)",
        f"fallback used     {p['fallback_used']}",
        "chosen models     " + ", ".join(f"{m} {n}" for m, n in p["models"].items()),
        "predicted task    " + ", ".join(f"{k} {n}" for k, n in r["predicted_task"].items()),
        "predicted diff.   " + ", ".join(f"{k} {n}" for k, n in r["predicted_difficulty"].items()),
    ]
    for label, row in r["difficulty_vs_predicted"].items():
        out.append(f"  SWE-bench {label!r:18s} -> " + ", ".join(f"{k} {n}" for k, n in row.items()))
    out += ["", "single-model baselines by cost (* on the frontier, ~ non-dominated under it)"]
    out.append(f"  {'model':24s} {'solved':>7s} {'total $':>9s}")
    mark = {"hull": "*", "pareto": "~", "": " "}
    for b in r["baselines"]:
        missing = f"  ({b['no_outcome']} without outcome)" if b["no_outcome"] else ""
        out.append(
            f"{mark[b['frontier']]} {b['model']:24s} {b['solved_pct']:6.1f}% "
            f"{b['cost_usd']:9.2f}{missing}"
        )
    bal = r["balanced"]
    if bal is None:
        out += ["", f"balanced baseline ({BALANCED}): not in the file"]
    else:
        ratio = p.get("cost_vs_balanced")
        out += [
            "",
            f"balanced baseline ({bal['model']}): {bal['solved_pct']:.1f}% for "
            f"${bal['cost_usd']:.2f}" + ("" if ratio is None else f"; routed costs {ratio:.2f}x"),
            f"solved >= balanced: {'yes' if p['solved_ge_balanced'] else 'no'}",
        ]
    if "curve" in r:
        out += [
            "",
            "bar-shift curve",
            f"  {'shift':>5s}  {'bars e/m/h':14s} {'solved':>7s} {'total $':>9s} {'hull gap':>9s}",
        ]
        for row in r["curve"]:
            out.append(
                f"  {row['shift']:+5.1f}  {_bars_text(row['bars']):14s} {row['solved_pct']:6.1f}% "
                f"{row['cost_usd']:9.2f} {row['hull_gap']:+8.1f}pp"
            )
    return "\n".join(out)


# ------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "file",
        nargs="?",
        type=Path,
        default=DEFAULT_FILE,
        metavar="FILE",
        help="SWE-bench outcome JSONL (default: ../shared/data/swebench_dev.jsonl)",
    )
    p.add_argument(
        "--pool",
        type=Path,
        default=DEFAULT_POOL,
        help="tier file to route over (default: pools/swebench-measured.toml)",
    )
    p.add_argument(
        "--bar-shift",
        type=float,
        default=0.0,
        metavar="X",
        help="move every bar by X logits: sigmoid(logit(bar) + X)",
    )
    p.add_argument(
        "--curve", action="store_true", help="also evaluate bar shifts -2..2 in steps of 0.5"
    )
    p.add_argument("--json", action="store_true", help="print all figures as one JSON object")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if not math.isfinite(args.bar_shift):
            raise UsageError(f"--bar-shift {args.bar_shift}: must be a finite number")
        report = run(args.file, args.pool, args.bar_shift, args.curve)
    except KiloError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    text = json.dumps(report, indent=2) if args.json else format_report(report)
    print_report(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
