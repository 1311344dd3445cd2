"""The transcript database's schema: numbered migrations, applied in order on open.

A migration only ever adds (tables, columns, indexes, triggers), so a database made by any older
kilocli is upgraded in place; a database from a newer kilocli is refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kilocli.errors import KiloError
from kilocli.store.connection import write_transaction
from kilocli.store.values import ts

if TYPE_CHECKING:
    import sqlite3

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "sessions, turns, decisions, usage",
        (
            """CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                tier TEXT NOT NULL,
                title TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX sessions_by_update ON sessions (updated_at)",
            """CREATE TABLE turns (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                prompt TEXT NOT NULL,
                files TEXT NOT NULL DEFAULT '[]',
                answer TEXT NOT NULL DEFAULT '',
                status TEXT NOT NULL DEFAULT 'streaming' CHECK (status IN
                    ('streaming', 'ok', 'incomplete', 'error', 'interrupted')),
                tier TEXT,
                model TEXT,
                provider TEXT,
                task TEXT,
                difficulty TEXT,
                input_tokens INTEGER,
                output_tokens INTEGER,
                cached_input_tokens INTEGER,
                estimated_cost_usd REAL,
                cost_usd REAL,
                frontier_cost_usd REAL,
                latency_ms INTEGER,
                error TEXT,
                created_at TEXT NOT NULL,
                finished_at TEXT,
                UNIQUE (session_id, seq)
            )""",
            "CREATE INDEX turns_by_time ON turns (created_at)",
            """CREATE TABLE decisions (
                turn_id INTEGER PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
                tier TEXT,
                task TEXT,
                difficulty TEXT,
                model TEXT,
                provider TEXT,
                estimated_cost_usd REAL,
                frontier_model TEXT,
                frontier_cost_usd REAL,
                fallback_used INTEGER,
                sticky INTEGER,
                margin REAL,
                reason TEXT,
                data TEXT NOT NULL
            )""",
            """CREATE TABLE usage (
                turn_id INTEGER PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
                model TEXT,
                provider TEXT,
                input_tokens INTEGER,
                output_tokens INTEGER,
                cached_input_tokens INTEGER,
                cost_usd REAL,
                data TEXT NOT NULL
            )""",
        ),
    ),
    (
        2,
        "budget reservations, prompt-cache writes",
        (
            # the worst case of a call in flight, held against budgets until its cost is known
            "ALTER TABLE turns ADD COLUMN reserved_usd REAL",
            "ALTER TABLE turns ADD COLUMN cache_write_tokens INTEGER",
            "ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER",
        ),
    ),
    (
        3,
        "full-text search over prompts and answers",
        (
            # external content: the text lives once, in turns; triggers keep the index in step
            # with every write, whichever code path makes it
            """CREATE VIRTUAL TABLE turns_fts USING fts5 (
                prompt, answer, content = 'turns', content_rowid = 'id',
                tokenize = 'porter unicode61 remove_diacritics 2'
            )""",
            """CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
                INSERT INTO turns_fts (rowid, prompt, answer)
                VALUES (new.id, new.prompt, new.answer);
            END""",
            """CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
                INSERT INTO turns_fts (turns_fts, rowid, prompt, answer)
                VALUES ('delete', old.id, old.prompt, old.answer);
            END""",
            # save_partial rewrites the answer while it streams; an unchanged row is not reindexed
            """CREATE TRIGGER turns_fts_update AFTER UPDATE OF prompt, answer ON turns
            WHEN old.prompt IS NOT new.prompt OR old.answer IS NOT new.answer BEGIN
                INSERT INTO turns_fts (turns_fts, rowid, prompt, answer)
                VALUES ('delete', old.id, old.prompt, old.answer);
                INSERT INTO turns_fts (rowid, prompt, answer)
                VALUES (new.id, new.prompt, new.answer);
            END""",
            # a database made before this migration: index the turns it already holds
            "INSERT INTO turns_fts (turns_fts) VALUES ('rebuild')",
        ),
    ),
    (
        4,
        "corrections: the user's own labels, used as personal routing examples",
        (
            """CREATE TABLE corrections (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                prompt TEXT NOT NULL,
                task TEXT NOT NULL,
                difficulty TEXT NOT NULL,
                created_at TEXT NOT NULL,
                source TEXT NOT NULL,
                turn_id INTEGER REFERENCES turns (id) ON DELETE SET NULL,
                routed_task TEXT,
                routed_difficulty TEXT,
                routed_model TEXT,
                model TEXT
            )""",
            "CREATE INDEX corrections_by_time ON corrections (created_at)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(conn: sqlite3.Connection, path: Path, clock: Callable[[], datetime]) -> None:
    """Bring the database at ``path`` up to SCHEMA_VERSION (``clock``: when the upgrade ran).

    ``PRAGMA user_version`` is the cheap check on open; ``schema_migrations`` records what ran."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    with write_transaction(conn) as tx:
        # re-read under the write lock: another process may have migrated meanwhile
        version = tx.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise KiloError(
                f"{path}: written by a newer kilocli (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade kilocli"
            )
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied_at = ts(clock())  # one moment for the whole upgrade
        for number, name, statements in MIGRATIONS:
            if number <= version:
                continue
            for statement in statements:
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (number, name, applied_at),
            )
        tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
