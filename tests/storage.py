"""Helpers for the tests of the store (not a test file): rows read straight from the SQLite file,
a turn finished with an answer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kilocli.store import Store


def raw_rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def finish_answered(store: Store, turn_id: int, answer: str) -> None:
    store.finish_turn(
        turn_id,
        answer=answer,
        status="ok",
        decision={"task": "explain", "difficulty": "easy"},
        model="deepseek-v3.2",
        provider="openrouter",
        usage={"input_tokens": 10, "output_tokens": 5},
        estimated_cost_usd=None,
        cost_usd=0.0001,
        frontier_cost_usd=None,
        latency_ms=5,
    )
