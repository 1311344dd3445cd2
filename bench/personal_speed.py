"""Cold `kilo route` with personal examples in the store (target: median <= 0.5 s with 1,000).

Usage: python bench/personal_speed.py [--examples N] [--runs N]

A fresh home gets the one-time setup, then N corrections (hand-written conventions crossed with
fillers, bench/personal_examples.py) written straight into its database. Printed: cold `kilo route`
with none, the first run after they were added (it encodes all N and caches their vectors), cold
runs with the cache warm, and the run after one more correction (only that one is encoded).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from personal_examples import _CONVENTIONS  # noqa: E402
from route_speed import cold_runs  # noqa: E402


def synthetic(n: int) -> list[tuple[str, str, str]]:
    """N distinct labeled prompts: every convention's template with every convention's fillers."""
    fillers = [f for _, _, _, fs in _CONVENTIONS for f in fs]
    out = [
        (template.format(filler), task, difficulty)
        for task, difficulty, template, _ in _CONVENTIONS
        for filler in fillers
    ]
    i = 0
    while len(out) < n:  # past 1,000: numbered variants
        text, task, difficulty = out[i]
        out.append((f"{text} (ticket {i})", task, difficulty))
        i += 1
    return out[:n]


def one_run(env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kilocli", "route", "rename tmp to total in utils.py"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="kilocli-bench-personal-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["KILOCLI_HOME"] = str(home)
    os.environ["KILOCLI_HOME"] = str(home)
    subprocess.run(
        [sys.executable, "-m", "kilocli", "setup"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    none, _ = cold_runs(args.runs, env)
    print(f"cold `kilo route`, no corrections: median {statistics.median(none):.3f} s")

    from kilocli.config import get_paths
    from kilocli.store import Store

    database = get_paths().database
    with Store(database) as store:
        for text, task, difficulty in synthetic(args.examples):
            store.add_correction(text, task, difficulty, "teach")
    first = one_run(env)
    print(
        f"first `kilo route` after {args.examples:,} corrections (encodes them all): {first:.2f} s"
    )
    times, rss_kb = cold_runs(args.runs, env)
    print(
        f"cold `kilo route` with {args.examples:,} personal examples ({args.runs} runs): median "
        f"{statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s, "
        f"peak RSS {rss_kb / 1024:.0f} MB   (target median <= 0.5 s)"
    )
    with Store(database) as store:
        store.add_correction("migrate the users table", "edit", "easy", "teach")
    print(f"`kilo route` after one more correction (encodes one): {one_run(env):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
