"""Transcripts in SQLite: sessions, turns, routing decisions, real usage, spend and corrections.

One ``Store`` object, assembled from modules with one job each:

- ``connection``: opening the file (WAL, busy timeout, mode 0600) and write transactions
- ``schema``: the numbered migrations and the upgrade of an older database
- ``base``: the shared connection, its lock and the read/write entry points
- ``writes``: sessions and turns (recorded before the provider call, finished after)
- ``spend``: what budgets count, and reservations for calls in flight
- ``reads``: resolving ids, listing sessions, whole sessions, stats
- ``search``: full-text search over prompts and answers
- ``corrections``: the user's own labels, used as personal routing examples
- ``records`` / ``values``: the dataclasses handed back, and column conversions

Importing this package imports sqlite3: command modules import it only when they use the store.
"""

from __future__ import annotations

from kilocli.store.connection import BUSY_TIMEOUT_MS
from kilocli.store.corrections import Corrections
from kilocli.store.records import (
    CORRECTION_SOURCES,
    CorrectionRecord,
    SearchHit,
    SessionRecord,
    SessionSummary,
    SpendRow,
    Stats,
    TaskRow,
    TurnRecord,
)
from kilocli.store.schema import MIGRATIONS, SCHEMA_VERSION
from kilocli.store.search import Search
from kilocli.store.spend import Spending
from kilocli.store.values import TITLE_MAX
from kilocli.store.writes import FINISHED_STATUSES, Writes

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CORRECTION_SOURCES",
    "FINISHED_STATUSES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TITLE_MAX",
    "CorrectionRecord",
    "SearchHit",
    "SessionRecord",
    "SessionSummary",
    "SpendRow",
    "Stats",
    "Store",
    "TaskRow",
    "TurnRecord",
]


class Store(Writes, Spending, Search, Corrections):
    """The transcript database (see the module docstring for what each part does)."""
