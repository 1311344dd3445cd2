"""The SQLite store, on a real database file in the test's KILOCLI_HOME (several processes at once:
tests/e2e/store/test_processes.py)."""

from __future__ import annotations

import sqlite3
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storage import raw_rows

from kilocli.config import get_paths
from kilocli.errors import KiloError, UsageError
from kilocli.store import MIGRATIONS, SCHEMA_VERSION, Store

DECISION = {
    "task": "debug",
    "difficulty": "medium",
    "tier": "auto-efficient",
    "model": "claude-sonnet-4.5",
    "provider": "openrouter",
    "estimated_cost_usd": 0.004,
    "frontier_model": "claude-opus-4.5",
    "frontier_cost_usd": 0.02,
    "fallback_used": False,
    "sticky": True,
    "margin": 0.4,
    "reason": "cheapest above the bar",
    "candidates": [{"model": "claude-sonnet-4.5", "adequate": True}],
}


class Clock:
    """A fake clock: each call moves time forward by ``step``."""

    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def db() -> Path:
    return get_paths().database


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Days are local days: pin the zone so the expected dates hold on any machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def finish(store: Store, turn_id: int, **overrides: object) -> None:
    args: dict[str, object] = {
        "answer": "the fix",
        "status": "ok",
        "decision": DECISION,
        "model": "claude-sonnet-4.5",
        "provider": "openrouter",
        "usage": {"input_tokens": 1200, "output_tokens": 300, "cached_input_tokens": 1000},
        "estimated_cost_usd": 0.004,
        "cost_usd": 0.0051,
        "frontier_cost_usd": 0.02,
        "latency_ms": 2100,
    }
    args.update(overrides)
    store.finish_turn(turn_id, **args)  # type: ignore[arg-type]


def test_turn_lifecycle_start_partial_finish(db: Path) -> None:
    store = Store(db)
    sid = store.new_session("chat", "auto-efficient")
    long_first_line = "why does parse() " + "x" * 80
    turn = store.start_turn(
        sid, f"\n{long_first_line}\nTraceback...", files=["a.py"], decision=DECISION
    )

    started = store.session(sid).turns[0]
    assert (started.status, started.answer, started.files) == ("streaming", "", ["a.py"])
    assert (started.task, started.model) == ("debug", "claude-sonnet-4.5")  # known before the call

    store.save_partial(turn, "the f")
    assert store.session(sid).turns[0].answer == "the f"

    finish(store, turn)
    record = store.session(sid)
    done = record.turns[0]
    assert record.title == long_first_line[:59] + "…"
    assert (done.status, done.answer, done.seq) == ("ok", "the fix", 1)
    assert (done.input_tokens, done.output_tokens, done.cached_input_tokens) == (1200, 300, 1000)
    assert (done.cost_usd, done.frontier_cost_usd, done.latency_ms) == (0.0051, 0.02, 2100)
    assert done.decision == DECISION
    assert done.usage == {"input_tokens": 1200, "output_tokens": 300, "cached_input_tokens": 1000}
    assert raw_rows(db, "SELECT turn_id, model, sticky, fallback_used FROM decisions") == [
        (turn, "claude-sonnet-4.5", 1, 0)
    ]
    assert raw_rows(db, "SELECT turn_id, input_tokens, cost_usd FROM usage") == [
        (turn, 1200, 0.0051)
    ]
    # a late partial save (a straggling timer) must not overwrite the final answer
    store.save_partial(turn, "the f")
    assert store.session(sid).turns[0].answer == "the fix"


def test_finish_is_one_transaction(db: Path) -> None:
    store = Store(db)
    sid = store.new_session("ask", "balanced")
    turn = store.start_turn(sid, "rename foo", decision=None)
    store.save_partial(turn, "partial")
    # the decision row cannot be written (sqlite cannot bind an object): the turn's update,
    # which ran first in the same transaction, must be rolled back with it
    with pytest.raises(sqlite3.Error):
        finish(store, turn, decision={**DECISION, "margin": object()})
    kept = store.session(sid).turns[0]
    assert (kept.status, kept.answer, kept.model, kept.decision, kept.usage) == (
        "streaming",
        "partial",
        None,
        None,
        None,
    )
    assert raw_rows(db, "SELECT count(*) FROM usage") == [(0,)]


def test_finish_rejects_unknown_status_and_turn(db: Path) -> None:
    store = Store(db)
    turn = store.start_turn(store.new_session("ask", "free"), "hi")
    with pytest.raises(ValueError, match="status must be one of"):
        finish(store, turn, status="done")
    with pytest.raises(KiloError, match="no turn 999"):
        finish(store, 999)


def test_migrations_are_idempotent(db: Path) -> None:
    store = Store(db)
    sid = store.new_session("chat", "free")
    store.close()
    for _ in range(3):
        Store(db).close()
    assert raw_rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert raw_rows(db, "SELECT version FROM schema_migrations") == [
        (number,) for number, _, _ in MIGRATIONS
    ]
    assert Store(db).session(sid).id == sid
    assert raw_rows(db, "PRAGMA journal_mode") == [("wal",)]


def test_database_from_a_newer_kilocli_is_refused(db: Path) -> None:
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(KiloError, match=r"written by a newer kilocli .*upgrade kilocli"):
        Store(db)


def test_database_file_is_private(db: Path) -> None:
    Store(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_session_ids_sort_by_creation_and_resolve(db: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, tzinfo=UTC), timedelta(hours=1))
    store = Store(db, clock=clock)
    ids = [store.new_session("chat", "balanced") for _ in range(3)]
    assert ids == sorted(ids)
    assert all(len(i) == 10 and i.isalnum() and i.islower() for i in ids)
    assert store.resolve("last") == ids[-1]
    assert store.resolve(ids[1][:9].upper()) == ids[1]  # prefixes, any case
    # all three share the leading seconds digits: a short prefix is ambiguous
    with pytest.raises(UsageError, match=r"^session id '0' is ambiguous: "):
        store.resolve("0")
    with pytest.raises(UsageError) as missing:
        store.session("zz")
    assert str(missing.value) == "no session 'zz' (kilo sessions list)"


def test_latest_session_is_the_most_recently_used(db: Path) -> None:
    store = Store(db, clock=Clock(datetime(2026, 11, 1, tzinfo=UTC)))
    assert store.latest_session_id() is None
    with pytest.raises(UsageError, match="no sessions yet"):
        store.resolve("last")
    old = store.new_session("chat", "free")
    new = store.new_session("ask", "free")
    store.start_turn(old, "back to the old one")
    assert store.latest_session_id() == old
    assert store.latest_session_id(kind="ask") == new
    assert [s.id for s in store.list_sessions()] == [old, new]
    assert [s.id for s in store.list_sessions(limit=1)] == [old]


def test_delete_session_removes_its_turns_decisions_and_usage(db: Path) -> None:
    store = Store(db)
    keep = store.new_session("ask", "free")
    gone = store.new_session("ask", "free")
    for sid in (keep, gone):
        finish(store, store.start_turn(sid, "p", decision=DECISION))
    assert store.delete_session(gone) == gone
    for table in ("turns", "decisions", "usage"):
        assert raw_rows(db, f"SELECT count(*) FROM {table}") == [(1,)]
    with pytest.raises(UsageError):
        store.session(gone)


def test_list_sessions_counts_turns_cost_and_unpriced(db: Path) -> None:
    store = Store(db)
    sid = store.new_session("chat", "auto-efficient", title="fix the\nflaky test")
    finish(store, store.start_turn(sid, "one"), cost_usd=0.01)
    finish(store, store.start_turn(sid, "two"), model="local-model", cost_usd=None)
    finish(store, store.start_turn(sid, "three"), status="error", cost_usd=None, usage=None)
    [summary] = store.list_sessions()
    assert (summary.title, summary.turns, summary.cost_usd, summary.unpriced_turns) == (
        "fix the",
        3,
        0.01,
        1,  # the errored turn produced nothing: it is not "unpriced"
    )
    assert summary.models == ["claude-sonnet-4.5", "local-model"]


def test_stats_aggregates_by_day_model_task_and_saving(db: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, 9, tzinfo=UTC), timedelta(minutes=1))
    store = Store(db, clock=clock)
    sid = store.new_session("chat", "auto-efficient")

    def turn(task: str, difficulty: str, model: str, cost: float | None, frontier: float | None):
        d = {**DECISION, "task": task, "difficulty": difficulty, "model": model}
        finish(
            store,
            store.start_turn(sid, f"{task} {model}", decision=d),
            decision=d,
            model=model,
            cost_usd=cost,
            frontier_cost_usd=frontier,
        )

    turn("edit", "easy", "cheap", 0.001, 0.01)
    turn("debug", "hard", "strong", 0.02, 0.03)
    clock.now += timedelta(days=1)
    turn("edit", "medium", "cheap", 0.002, 0.01)
    turn("plan", "hard", "unpriced-model", None, 0.05)  # no actual cost: left out of the saving

    stats = store.stats()
    assert (stats.turns, stats.sessions, stats.unpriced_turns) == (4, 1, 1)
    assert stats.cost_usd == pytest.approx(0.023)
    assert [(d.key, d.turns, round(d.cost_usd, 6)) for d in stats.by_day] == [
        ("2026-11-01", 2, 0.021),
        ("2026-11-02", 2, 0.002),
    ]
    assert [(m.key, m.turns, round(m.cost_usd, 6), m.unpriced_turns) for m in stats.by_model] == [
        ("strong", 1, 0.02, 0),
        ("cheap", 2, 0.003, 0),
        ("unpriced-model", 1, 0.0, 1),
    ]
    assert [(t.task, t.turns, t.difficulties) for t in stats.by_task] == [
        ("edit", 2, {"easy": 1, "medium": 1}),
        ("debug", 1, {"hard": 1}),
        ("plan", 1, {"hard": 1}),
    ]
    assert stats.compared_turns == 3
    assert stats.compared_cost_usd == pytest.approx(0.023)
    assert stats.frontier_cost_usd == pytest.approx(0.05)
    assert stats.saving_usd == pytest.approx(0.027)
    assert stats.saving_ratio == pytest.approx(0.54)
    assert (stats.input_tokens, stats.output_tokens) == (4800, 1200)

    later = store.stats(since=datetime(2026, 11, 2, tzinfo=UTC))
    assert (later.turns, [d.key for d in later.by_day]) == (2, ["2026-11-02"])
    assert later.to_json()["saving_usd"] == pytest.approx(0.008)


def test_stats_leave_out_turns_that_failed_before_any_answer(db: Path) -> None:
    store = Store(db)
    ok = store.new_session("ask", "auto-efficient")
    finish(store, store.start_turn(ok, "works"), cost_usd=0.01)
    failed = store.new_session("ask", "auto-efficient")  # e.g. a 401: nothing billed, nothing said
    finish(store, store.start_turn(failed, "fails"), status="error", cost_usd=None, usage=None)
    stats = store.stats()
    assert (stats.turns, stats.sessions) == (1, 1)
    assert [m.key for m in stats.by_model] == ["claude-sonnet-4.5"]
