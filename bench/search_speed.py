"""How fast `kilo sessions search` answers over a large history (target: < 100 ms a query).

Fills a scratch store with synthetic turns (default 100,000, made from a small programming
vocabulary; no real prompts), inserted in bulk through the store's own schema and triggers, then
times Store.search for a rare word, a common word, two words, a prefix and a phrase-like query
(in process, the FTS5 query with bm25 ranking and snippets), and `kilo sessions search` end to end
(a new process each time, Python start-up included).

Usage: python bench/search_speed.py [--turns N] [--runs N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_io import print_report

from kilocli.search_query import fts_query
from kilocli.store import Store

_WORD_TEXT = (
    "function class method variable return value list dict string integer parse file read "
    "write test assert mock fixture error exception raise handle retry timeout request response "
    "server client socket thread lock queue async await loop event callback promise module "
    "import package install build compile link deploy docker container image kubernetes pod "
    "service config yaml json schema table column index query join migrate database postgres "
    "sqlite cache memory leak profile slow fast optimize refactor rename extract inline split "
    "merge branch commit rebase diff patch review comment docstring readme explain why how"
)
WORDS = _WORD_TEXT.split()
RARE = "zanzibar"  # planted in one answer in ten thousand
# identifiers and filler: 20,000 made-up words, so the vocabulary has a long tail like real text
VOCABULARY = WORDS + [f"{a}{b}{n}" for a in "bcdfgk" for b in "aeiou" for n in range(667)]
# word frequencies fall off as 1/rank (Zipf), the shape of natural and code text
CUM_WEIGHTS = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(VOCABULARY, cum_weights=CUM_WEIGHTS, k=n))


def fill(path: Path, turns: int, seed: int = 7) -> float:
    """Bulk insert: one transaction, executemany, the FTS triggers firing as in real use."""
    rng = random.Random(seed)
    Store(path).close()  # the schema and triggers, made by the store itself
    import sqlite3

    start = datetime(2026, 1, 1, tzinfo=UTC)
    sessions, rows = [], []
    per_session = 10
    for i in range(turns):
        sid = f"s{i // per_session:09d}"
        when = (start + timedelta(seconds=37 * i)).isoformat(timespec="milliseconds")
        if i % per_session == 0:
            sessions.append((sid, "ask", "balanced", _text(rng, 5), when, when))
        answer = _text(rng, rng.randint(40, 120))
        if i % 10_000 == 5_000:
            answer += f" {RARE}"
        rows.append((sid, i % per_session + 1, _text(rng, rng.randint(6, 25)), answer, when))
    t0 = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    db.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", sessions)
    db.executemany(
        "INSERT INTO turns (session_id, seq, prompt, answer, status, model, created_at) "
        "VALUES (?, ?, ?, ?, 'ok', 'deepseek-v3.2', ?)",
        rows,
    )
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - t0


def _upgrade(database: Path) -> float:
    """Seconds for the one-time migration of a database made before search: the same sessions
    and turns in a database of the first schema, opened by the store (its index filled then)."""
    import sqlite3

    from kilocli.store import MIGRATIONS

    old = database.with_name("old.db")
    db = sqlite3.connect(old, isolation_level=None)
    for statement in MIGRATIONS[0][2]:  # the schema before full-text search
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("ATTACH DATABASE ? AS new", (str(database),))
    db.execute("BEGIN")
    db.execute(
        "INSERT INTO sessions SELECT id, kind, tier, title, created_at, updated_at "
        "FROM new.sessions"
    )
    db.execute(
        "INSERT INTO turns (id, session_id, seq, prompt, answer, status, model, "
        "created_at) SELECT id, session_id, seq, prompt, answer, status, model, "
        "created_at FROM new.turns"
    )
    db.execute("COMMIT")
    db.execute("DETACH DATABASE new")
    db.close()
    t0 = time.perf_counter()
    Store(old).close()
    return time.perf_counter() - t0


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(values) * 1000:6.1f} ms · p95 {p95 * 1000:6.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["KILOCLI_HOME"] = home
        database = Path(home) / "data" / "kilocli.db"
        database.parent.mkdir(parents=True)
        seconds = fill(database, args.turns)
        size = database.stat().st_size / 1e6
        lines = [
            f"store: {args.turns:,} turns inserted in {seconds:.1f} s "
            f"({args.turns / seconds:,.0f} turns/s, index kept by triggers), {size:.0f} MB"
        ]
        queries = {
            "rare word": RARE,
            "common word": "database",
            "two words": "postgres migrate",
            "prefix": "optim*",
            "three words": "retry timeout socket",
            "commonest": "function",  # the top word of the Zipf vocabulary: the worst case
        }
        with Store(database) as store:
            for label, text in queries.items():
                query = fts_query(text)
                hits = store.search(query)
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    store.search(query)
                    times.append(time.perf_counter() - t0)
                matches = store._read(
                    "SELECT count(*) FROM turns_fts WHERE turns_fts MATCH ?", (query,)
                )[0][0]
                lines.append(
                    f"{label:12} {text!r:26} {matches:7,} matches, top {len(hits):2}: {_ms(times)}"
                )
        env = dict(os.environ)
        cli = []
        for _ in range(max(3, args.runs // 4)):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "kilocli", "sessions", "search", "postgres", "migrate"],
                env=env,
                capture_output=True,
                check=True,
            )
            cli.append(time.perf_counter() - t0)
        lines.append(f"`kilo sessions search postgres migrate`, whole process: {_ms(cli)}")
        lines.append(
            f"first open of the same turns in a pre-search database: {_upgrade(database):.1f} s"
        )
        lines.append("target: < 100 ms a query")
    print_report("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
