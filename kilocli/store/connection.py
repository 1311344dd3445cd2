"""Opening the transcript database: WAL journal, busy timeout, private file mode.

Several ``kilo`` processes may write at once: each write is a short ``BEGIN IMMEDIATE``
transaction that waits for the lock (up to BUSY_TIMEOUT_MS) instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kilocli.errors import KiloError

BUSY_TIMEOUT_MS = 15_000


def _enable_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch a new database to WAL. The switch needs the database to itself and SQLite does not
    apply busy_timeout to it, so two processes creating the database at once retry here."""
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the database at ``path`` (created 0600), or KiloError naming the file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        # transcripts hold code and prompts: private from the start (WAL files inherit the mode)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        conn = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # explicit transactions only
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        _enable_wal(conn)
        # WAL + NORMAL: commits are not fsynced yet never corrupt; a power cut may lose the last
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        advice = ""
        if "not a database" in str(exc) or "malformed" in str(exc):
            advice = f"; move it aside (mv {path} {path}.bad) and kilo starts a new one"
        raise KiloError(f"{path}: cannot open the transcript database: {exc}{advice}") from None
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; BEGIN IMMEDIATE takes the lock up front (waits, no deadlock)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
