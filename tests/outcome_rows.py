"""Outcome rows for the tests of bench/route_outcomes.py (a helper, not a test file): three models
that solve nested sets of four instances, the bench loaded as a module, the rows in a file."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from bench_scripts import load_bench_script

REPO = Path(__file__).resolve().parents[1]
POOL = REPO / "pools" / "swebench-measured.toml"

# Three outcome models (names as in the outcome file) x four instances, with costs that add up
# exactly in binary floating point.
#   gpt-5-nano               solves i1             0.125 each -> 25%, $0.50
#   deepseek-v3.2-reasoner   solves i1, i2         0.25 each  -> 50%, $1.00
#   claude-opus-4.5          solves i1, i2, i3     1.0 each   -> 75%, $4.00
NANO, DEEPSEEK, OPUS = "gpt-5-nano", "deepseek-v3.2-reasoner", "claude-opus-4.5"
SOLVES = {NANO: {"i1"}, DEEPSEEK: {"i1", "i2"}, OPUS: {"i1", "i2", "i3"}}
COSTS = {NANO: 0.125, DEEPSEEK: 0.25, OPUS: 1.0}
PROBLEMS = {
    "i1": "Fix the typo in the README: 'recieve' should be 'receive'.",
    "i2": "parse_date() raises ValueError when the string has a +02:00 offset; it should "
    "return an aware datetime instead.",
    "i3": "Under concurrent writes the cache sometimes returns a stale entry after "
    "invalidate(); find the race in the lock handling and fix it.",
    "i4": "Rewrite the query planner so joins across sharded tables push filters down to each "
    "shard, keeping the public API unchanged.",
}


def outcome_row(ident: str) -> dict[str, object]:
    return {
        "instance_id": ident,
        "repo": "example/project",
        "difficulty": "<15 min fix",
        "problem_statement": PROBLEMS[ident],
        "resolved": {m: ident in SOLVES[m] for m in SOLVES},
        "cost_usd": dict(COSTS),
        "api_calls": {m: 3 for m in SOLVES},
    }


def load_bench() -> ModuleType:
    return load_bench_script("route_outcomes")


def write_outcomes(folder: Path) -> Path:
    path = folder / "outcomes.jsonl"
    path.write_text("".join(json.dumps(outcome_row(i)) + "\n" for i in PROBLEMS), encoding="utf-8")
    return path
