"""`kilo sessions search`: a database made before full-text search gains it, and the command's
errors are one line and its output terminal-safe."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from storage import finish_answered

from kilocli.config import get_paths
from kilocli.store import Store

# The schema as the first store wrote it (kilocli/store/schema.py before full-text search,
# migration 1), copied verbatim so that this test keeps meaning "a database made before the change".
OLD_SCHEMA = (
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, tier TEXT NOT NULL, title TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX sessions_by_update ON sessions (updated_at)",
    """CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL, prompt TEXT NOT NULL, files TEXT NOT NULL DEFAULT '[]',
        answer TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'streaming' CHECK (status IN
            ('streaming', 'ok', 'incomplete', 'error', 'interrupted')),
        tier TEXT, model TEXT, provider TEXT, task TEXT, difficulty TEXT,
        input_tokens INTEGER, output_tokens INTEGER, cached_input_tokens INTEGER,
        estimated_cost_usd REAL, cost_usd REAL, frontier_cost_usd REAL, latency_ms INTEGER,
        error TEXT, created_at TEXT NOT NULL, finished_at TEXT, UNIQUE (session_id, seq)
    )""",
    "CREATE INDEX turns_by_time ON turns (created_at)",
    """CREATE TABLE decisions (
        turn_id INTEGER PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
        tier TEXT, task TEXT, difficulty TEXT, model TEXT, provider TEXT,
        estimated_cost_usd REAL, frontier_model TEXT, frontier_cost_usd REAL,
        fallback_used INTEGER, sticky INTEGER, margin REAL, reason TEXT, data TEXT NOT NULL
    )""",
    """CREATE TABLE usage (
        turn_id INTEGER PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
        model TEXT, provider TEXT, input_tokens INTEGER, output_tokens INTEGER,
        cached_input_tokens INTEGER, cost_usd REAL, data TEXT NOT NULL
    )""",
    "CREATE TABLE schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    "INSERT INTO schema_migrations VALUES (1, 'sessions, turns, decisions, usage', "
    "'2026-11-20T10:00:00.000+00:00')",
    "PRAGMA user_version = 1",
)


def _old_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    for statement in OLD_SCHEMA:
        db.execute(statement)
    db.execute("PRAGMA journal_mode = WAL")
    t = "2026-11-20T10:00:00.000+00:00"
    db.execute(
        "INSERT INTO sessions VALUES ('0tabc00xyz', 'ask', 'auto-efficient', 'pg', ?, ?)", (t, t)
    )
    db.execute(
        "INSERT INTO turns (session_id, seq, prompt, answer, status, model, created_at) "
        "VALUES ('0tabc00xyz', 1, 'plan the postgres to sqlite move', "
        "'Dump it, then rebuild the indexes with the quokka script.', 'ok', 'gpt-5-mini', ?)",
        (t,),
    )
    db.execute(
        "INSERT INTO turns (session_id, seq, prompt, answer, status, model, created_at) "
        "VALUES ('0tabc00xyz', 2, 'and the migration of the triggers?', "
        "'Recreate each trigger after the load.', 'ok', 'gpt-5-mini', ?)",
        (t,),
    )
    db.commit()
    db.close()


def _kilo(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)  # KILOCLI_HOME is the test's own (conftest)
    return subprocess.run(
        [sys.executable, "-m", "kilocli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_search_finds_a_word_of_an_answer_in_a_database_made_before_the_change():
    database = get_paths().database
    _old_database(database)
    proc = _kilo("sessions", "search", "quokka", "--json")
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert [(h["session_id"], h["seq"]) for h in hits] == [("0tabc00xyz", 1)]
    hit = hits[0]
    assert set(hit) == {
        "session_id",
        "turn_id",
        "seq",
        "kind",
        "title",
        "created_at",
        "model",
        "task",
        "difficulty",
        "status",
        "snippet",
        "highlights",
        "score",
    }
    assert hit["model"] == "gpt-5-mini" and hit["kind"] == "ask"
    ((start, end),) = hit["highlights"]
    assert hit["snippet"][start:end] == "quokka"
    # the migration ran once and is recorded; stemming finds "migration" from "migrate"
    db = sqlite3.connect(database)
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 2
    names = [r[0] for r in db.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert "full-text search over prompts and answers" in names
    proc = _kilo("sessions", "search", "migrate", "--json")
    assert [h["seq"] for h in json.loads(proc.stdout)] == [2]


def test_cli_errors_are_one_line_and_output_is_terminal_safe():
    with Store(get_paths().database) as store:
        sid = store.new_session("ask", "balanced")
        finish_answered(
            store, store.start_turn(sid, "colour me"), "walrus \x1b]52;c;ZXZpbA==\x07 here"
        )
    proc = _kilo("sessions", "search", "--fts", "walrus AND (")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: search query 'walrus AND (': fts5: syntax error")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = _kilo("sessions", "search", "--", "- ?")
    assert (proc.returncode, proc.stderr.strip()) == (
        2,
        "error: QUERY: nothing to search for (give a word or two)",
    )
    proc = _kilo("sessions", "search", "walrus")
    assert proc.returncode == 0, proc.stderr
    assert sid in proc.stdout and "walrus" in proc.stdout
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "␛]52" in proc.stdout
    proc = _kilo("sessions", "search", "--fts", "walrus OR nothingelse", "--json")
    assert [h["session_id"] for h in json.loads(proc.stdout)] == [sid]
    proc = _kilo("sessions", "search", "zzzz")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "no stored turn matches 'zzzz'\n")
