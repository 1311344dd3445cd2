"""The store's core: one SQLite connection shared by threads, and its two ways in.

``_write`` is one BEGIN IMMEDIATE transaction; ``_read`` one query. Keys never reach the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from kilocli.store.connection import connect, write_transaction
from kilocli.store.schema import migrate

if TYPE_CHECKING:
    import sqlite3


class StoreBase:
    """One SQLite connection; thread-safe (a streaming thread may call save_partial)."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._conn = connect(path)
        try:
            with self._lock:
                migrate(self._conn, path, self._clock)
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the lock up front (waits, no deadlock)."""
        with self._lock, write_transaction(self._conn) as conn:
            yield conn

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
