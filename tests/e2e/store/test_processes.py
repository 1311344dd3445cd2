"""The SQLite store shared by several processes: one killed mid-turn, two writing at once, four
creating a fresh file at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from storage import raw_rows

from kilocli.config import get_paths
from kilocli.store import MIGRATIONS, Store

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def db() -> Path:
    return get_paths().database


def _run(code: str, db: Path) -> subprocess.Popen[bytes]:
    script = textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script, str(db)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_crash_between_start_and_finish_keeps_prompt_and_partial(db: Path) -> None:
    proc = _run(
        """
        import os, signal, sys
        from pathlib import Path
        from kilocli.store import Store
        store = Store(Path(sys.argv[1]))
        sid = store.new_session("ask", "auto-efficient")
        turn = store.start_turn(sid, "write a regex for dates", decision=None)
        store.save_partial(turn, "Here is a regex: \\\\d{4}")
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        db,
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -9, err.decode()
    record = Store(db).session("last")
    assert [(t.prompt, t.answer, t.status) for t in record.turns] == [
        ("write a regex for dates", "Here is a regex: \\d{4}", "streaming")
    ]


def test_two_processes_writing_at_once_both_land(db: Path) -> None:
    go = db.parent / "go"
    writer = """
        import sys, time
        from pathlib import Path
        from kilocli.store import Store
        db, go, name = Path(sys.argv[1]), Path(sys.argv[1]).parent / "go", sys.argv[2]
        while not go.exists():
            time.sleep(0.005)
        store = Store(db)  # both open a fresh file at once: schema creation races too
        sid = store.new_session("ask", name)
        for i in range(40):
            turn = store.start_turn(sid, f"{name} {i}", decision={"task": "edit"})
            store.save_partial(turn, "par")
            store.finish_turn(turn, answer=f"answer {i}", status="ok", decision={"task": "edit"},
                              model="m", provider=None, usage={"output_tokens": 1},
                              estimated_cost_usd=None, cost_usd=0.001, frontier_cost_usd=None,
                              latency_ms=1)
        """
    db.parent.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(writer), str(db), name],
            cwd=REPO,
            stderr=subprocess.PIPE,
        )
        for name in ("one", "two")
    ]
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    rows = raw_rows(
        db,
        "SELECT s.tier, count(*), sum(t.status = 'ok') FROM turns t "
        "JOIN sessions s ON s.id = t.session_id GROUP BY s.tier ORDER BY s.tier",
    )
    assert rows == [("one", 40, 40), ("two", 40, 40)]
    assert raw_rows(db, "SELECT count(*) FROM schema_migrations") == [(len(MIGRATIONS),)]


def _open_new_session(db: str) -> str:
    try:
        Store(Path(db)).new_session("ask", "auto-efficient", "race")
        return "ok"
    except Exception as exc:  # reported back to the test as text
        return f"{type(exc).__name__}: {exc}"


def test_processes_creating_a_fresh_database_at_once_all_succeed(tmp_path: Path) -> None:
    # switching a new file to WAL needs it exclusively, and busy_timeout does not cover that
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(4) as pool:
        for round_ in range(6):
            db = str(tmp_path / f"race{round_}.db")
            assert pool.map(_open_new_session, [db] * 4) == ["ok"] * 4
