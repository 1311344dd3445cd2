"""Transcripts in SQLite: sessions, turns, routing decisions and real usage.

WAL journal + busy timeout, so several ``kilo`` processes can write at once (each write is a
short ``BEGIN IMMEDIATE`` transaction that waits for the lock instead of failing). A turn is
inserted before the provider call and updated while it streams, so a crash never loses the prompt
or the partial answer. The schema is versioned: ``PRAGMA user_version`` for a cheap check on
open, and a ``schema_migrations`` table recording what ran. Keys never reach this module.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilocli.errors import KiloError, UsageError

if TYPE_CHECKING:
    from kilocli.budget import Spent

BUSY_TIMEOUT_MS = 15_000
TITLE_MAX = 60
FINISHED_STATUSES = ("ok", "incomplete", "error", "interrupted")
# a turn that produced output but has no known cost (an unpriced model): never shown as $0
_UNPRICED = "CASE WHEN t.status IN ('ok', 'incomplete') AND t.cost_usd IS NULL THEN 1 ELSE 0 END"

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
# what a turn counts against a budget: its cost once known, else what its call reserved
_SPEND = "coalesce(cost_usd, reserved_usd, 0.0)"
# How a correction was made (corrections.source).
CORRECTION_SOURCES = ("teach", "wrong", "retry-up", "ask-up")


# -- records ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionSummary:
    id: str
    kind: str  # "chat" | "ask" | ...
    tier: str
    title: str | None
    created_at: datetime  # aware, UTC
    updated_at: datetime  # last turn (sessions are listed most recently used first)
    turns: int
    cost_usd: float  # known costs summed
    unpriced_turns: int  # answered turns whose cost is unknown (show "+" / "unpriced", not $0)
    models: list[str]


@dataclass(frozen=True)
class TurnRecord:
    id: int
    seq: int  # 1, 2, ... within the session
    prompt: str
    files: list[str]
    answer: str
    status: str  # streaming (unfinished: still running, or the process died) | ok | incomplete |
    #              error | interrupted
    tier: str | None
    model: str | None
    provider: str | None
    task: str | None
    difficulty: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    estimated_cost_usd: float | None
    cost_usd: float | None
    frontier_cost_usd: float | None
    latency_ms: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    decision: dict[str, Any] | None
    usage: dict[str, Any] | None
    cache_write_tokens: int | None = None  # prompt tokens written to the provider's cache


@dataclass(frozen=True)
class SessionRecord:
    id: str
    kind: str
    tier: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    turns: list[TurnRecord]

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class SpendRow:
    key: str  # a local day (YYYY-MM-DD) or a model id ("-" when none was chosen)
    turns: int
    cost_usd: float
    unpriced_turns: int


@dataclass(frozen=True)
class TaskRow:
    task: str  # a task bucket, or "-" when the turn was not classified
    turns: int
    cost_usd: float
    unpriced_turns: int
    difficulties: dict[str, int]  # difficulty bucket -> turns


@dataclass(frozen=True)
class Stats:
    since: datetime | None
    sessions: int
    turns: int
    cost_usd: float  # actual spend, known costs only
    unpriced_turns: int
    input_tokens: int
    output_tokens: int
    by_day: list[SpendRow]  # ascending, days with turns only
    by_model: list[SpendRow]  # most spend first
    by_task: list[TaskRow]  # most turns first
    # the saving is measured on turns where both figures are known, so it compares like with like
    compared_turns: int
    compared_cost_usd: float  # what those turns cost
    frontier_cost_usd: float  # what the frontier tier would have cost for them
    served_turns: int = 0  # of `turns`, those answered through kilo serve (sessions of kind serve)

    @property
    def saving_usd(self) -> float:
        return self.frontier_cost_usd - self.compared_cost_usd

    @property
    def saving_ratio(self) -> float | None:
        return self.saving_usd / self.frontier_cost_usd if self.frontier_cost_usd > 0 else None

    def to_json(self) -> dict[str, Any]:
        data = _jsonable(asdict(self))
        # rounded: float sums carry noise in the 17th digit that scripts should not see
        data["saving_usd"] = round(self.saving_usd, 10)
        ratio = self.saving_ratio
        data["saving_ratio"] = None if ratio is None else round(ratio, 6)
        return data


@dataclass(frozen=True)
class SearchHit:
    """One turn matching a full-text search, best first."""

    session_id: str
    turn_id: int
    seq: int
    kind: str
    title: str | None
    created_at: datetime
    model: str | None
    task: str | None
    difficulty: str | None
    status: str
    snippet: str  # from the prompt or the answer, whichever matched best; matches marked
    #               with search_query.MATCH_START / MATCH_END
    score: float  # bm25: lower is a better match


@dataclass(frozen=True)
class CorrectionRecord:
    """A label the user gave a prompt: `kilo route --teach`, `/wrong`, or an escalation."""

    id: int
    prompt: str
    task: str
    difficulty: str
    created_at: datetime
    source: str  # one of CORRECTION_SOURCES
    turn_id: int | None = None  # the stored turn it corrects, if any
    routed_task: str | None = None  # what the router had said
    routed_difficulty: str | None = None
    routed_model: str | None = None
    model: str | None = None  # the model escalated to (retry-up, ask-up)

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


# -- helpers ------------------------------------------------------------------------------------
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int, width: int) -> str:
    digits = []
    while n:
        n, r = divmod(n, 36)
        digits.append(_ID_ALPHABET[r])
    return "".join(reversed(digits)).rjust(width, "0")


def _new_session_id(now: datetime) -> str:
    """7 base-36 chars of Unix seconds (sorts by creation until 2059) + 3 random ones."""
    return _base36(int(now.timestamp()), 7) + "".join(
        secrets.choice(_ID_ALPHABET) for _ in range(3)
    )


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _title(prompt: str) -> str | None:
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    if not line:
        return None
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1].rstrip() + "…"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_jsonable(value), ensure_ascii=False, default=str)


def _usage_int(usage: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


# -- the store ------------------------------------------------------------------------------
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


class Store:
    """One SQLite connection; thread-safe (a streaming thread may call save_partial)."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._conn = self._connect(path)
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    # -- connection and schema --------------------------------------------------------------
    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
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

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        with self._write() as conn:
            # re-read under the write lock: another process may have migrated meanwhile
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise KiloError(
                    f"{self.path}: written by a newer kilocli (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade kilocli"
                )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied_at = _ts(self._clock())  # one moment for the whole upgrade
            for number, name, statements in MIGRATIONS:
                if number <= version:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (number, name, applied_at),
                )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the lock up front (waits, no deadlock)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------
    def new_session(self, kind: str, tier: str, title: str | None = None) -> str:
        now = self._clock()
        with self._write() as conn:
            while True:
                session_id = _new_session_id(now)
                exists = conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,))
                if exists.fetchone() is None:
                    break
            conn.execute(
                "INSERT INTO sessions (id, kind, tier, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, kind, tier, _title(title) if title else None, _ts(now), _ts(now)),
            )
        return session_id

    def start_turn(
        self,
        session_id: str,
        prompt: str,
        *,
        files: Sequence[str] = (),
        decision: dict[str, Any] | None = None,
    ) -> int:
        """Record the user's turn (status "streaming") before the provider is called."""
        now = _ts(self._clock())
        d = decision or {}
        with self._write() as conn:
            session = conn.execute("SELECT title FROM sessions WHERE id = ?", (session_id,))
            row = session.fetchone()
            if row is None:
                raise UsageError(f"no session '{session_id}' (kilo sessions list)")
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM turns WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO turns (session_id, seq, prompt, files, tier, model, provider, task, "
                "difficulty, estimated_cost_usd, frontier_cost_usd, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    seq,
                    prompt,
                    _dumps(list(files)),
                    d.get("tier"),
                    d.get("model"),
                    d.get("provider"),
                    d.get("task"),
                    d.get("difficulty"),
                    d.get("estimated_cost_usd"),
                    d.get("frontier_cost_usd"),
                    now,
                ),
            )
            turn_id = int(cursor.lastrowid or 0)
            if decision is not None:
                self._put_decision(conn, turn_id, decision)
            title = row["title"] or _title(prompt)
            conn.execute(
                "UPDATE sessions SET updated_at = ?, title = ? WHERE id = ?",
                (now, title, session_id),
            )
        return turn_id

    def save_partial(self, turn_id: int, answer_so_far: str) -> None:
        """Keep the streamed text so far (one autocommitted UPDATE; ignored once finished)."""
        with self._lock:
            self._conn.execute(
                "UPDATE turns SET answer = ? WHERE id = ? AND status = 'streaming'",
                (answer_so_far, turn_id),
            )

    def spent(self, session_id: str | None = None, *, exclude_turn: int | None = None) -> Spent:
        """USD counted against budgets: this session's, today's and this month's (local calendar),
        each turn at its cost, or at what its call reserved while the cost is not known."""
        with self._lock:
            return self._spent(self._conn, session_id, exclude_turn)

    def reserve(
        self, turn_id: int, session_id: str, decide: Callable[[Callable[[], Spent]], float]
    ) -> float:
        """Hold a call's worst case against the budgets before it is made.

        ``decide`` gets a function reading what was spent (calls in flight in other processes
        included; not read when no budget needs it) and returns the amount to hold, or raises to
        refuse; reading and holding are one BEGIN IMMEDIATE transaction, so a racing process
        sees this hold before it decides its own."""
        with self._write() as conn:
            amount = decide(lambda: self._spent(conn, session_id, turn_id))
            conn.execute(
                "UPDATE turns SET reserved_usd = max(coalesce(reserved_usd, 0.0), ?) WHERE id = ?",
                (amount, turn_id),
            )
        return amount

    def _spent(
        self, conn: sqlite3.Connection, session_id: str | None, exclude_turn: int | None
    ) -> Spent:
        from kilocli.budget import Spent, window_starts

        day, month = window_starts(self._clock())
        row = conn.execute(
            f"SELECT coalesce(sum(CASE WHEN session_id = ? THEN {_SPEND} END), 0.0) AS s, "
            f"coalesce(sum(CASE WHEN created_at >= ? THEN {_SPEND} END), 0.0) AS d, "
            f"coalesce(sum(CASE WHEN created_at >= ? THEN {_SPEND} END), 0.0) AS m "
            "FROM turns WHERE (created_at >= ? OR session_id = ?) AND id != ?",
            (
                session_id,
                _ts(day),
                _ts(month),
                _ts(month),
                session_id,
                -1 if exclude_turn is None else exclude_turn,
            ),
        ).fetchone()
        return Spent(session=float(row["s"]), day=float(row["d"]), month=float(row["m"]))

    def finish_turn(
        self,
        turn_id: int,
        *,
        answer: str,
        status: str,
        decision: dict[str, Any],
        model: str,
        provider: str | None,
        usage: dict[str, Any] | None,
        estimated_cost_usd: float | None,
        cost_usd: float | None,
        frontier_cost_usd: float | None,
        latency_ms: int,
        error: str | None = None,
    ) -> None:
        """The answer, the decision and the usage, in one transaction.

        ``usage`` keys: input_tokens, output_tokens, cached_input_tokens, cache_write_tokens
        (OpenAI's prompt_tokens / completion_tokens / cached_tokens are accepted too); the whole
        dict is kept as JSON.
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"status must be one of {FINISHED_STATUSES}, not {status!r}")
        u = usage or {}
        input_tokens = _usage_int(u, "input_tokens", "prompt_tokens")
        output_tokens = _usage_int(u, "output_tokens", "completion_tokens")
        cached = _usage_int(u, "cached_input_tokens", "cached_tokens")
        cache_write = _usage_int(u, "cache_write_tokens")
        # a call's reservation is released once its cost is known, or when nothing came back
        # from it; a cut or stopped answer of unknown cost keeps counting its worst case
        keep_reserved = cost_usd is None and (bool(answer) or status in ("incomplete",))
        now = _ts(self._clock())
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE turns SET answer = ?, status = ?, tier = coalesce(?, tier), model = ?, "
                "provider = ?, task = ?, difficulty = ?, input_tokens = ?, output_tokens = ?, "
                "cached_input_tokens = ?, cache_write_tokens = ?, estimated_cost_usd = ?, "
                "cost_usd = ?, frontier_cost_usd = ?, latency_ms = ?, error = ?, finished_at = ?, "
                "reserved_usd = CASE WHEN ? THEN reserved_usd END WHERE id = ?",
                (
                    answer,
                    status,
                    decision.get("tier"),
                    model,
                    provider,
                    decision.get("task"),
                    decision.get("difficulty"),
                    input_tokens,
                    output_tokens,
                    cached,
                    cache_write,
                    estimated_cost_usd,
                    cost_usd,
                    frontier_cost_usd,
                    latency_ms,
                    error,
                    now,
                    int(keep_reserved),
                    turn_id,
                ),
            )
            if cursor.rowcount == 0:
                raise KiloError(f"no turn {turn_id} in {self.path}")
            self._put_decision(conn, turn_id, decision)
            if usage is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO usage (turn_id, model, provider, input_tokens, "
                    "output_tokens, cached_input_tokens, cache_write_tokens, cost_usd, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        turn_id,
                        model,
                        provider,
                        input_tokens,
                        output_tokens,
                        cached,
                        cache_write,
                        cost_usd,
                        _dumps(usage),
                    ),
                )
            conn.execute(
                "UPDATE sessions SET updated_at = ? "
                "WHERE id = (SELECT session_id FROM turns WHERE id = ?)",
                (now, turn_id),
            )

    @staticmethod
    def _put_decision(conn: sqlite3.Connection, turn_id: int, d: dict[str, Any]) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO decisions (turn_id, tier, task, difficulty, model, provider, "
            "estimated_cost_usd, frontier_model, frontier_cost_usd, fallback_used, sticky, margin, "
            "reason, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                turn_id,
                d.get("tier"),
                d.get("task"),
                d.get("difficulty"),
                d.get("model"),
                d.get("provider"),
                d.get("estimated_cost_usd"),
                d.get("frontier_model"),
                d.get("frontier_cost_usd"),
                _flag(d.get("fallback_used")),
                _flag(d.get("sticky")),
                d.get("margin"),
                d.get("reason"),
                _dumps(d),
            ),
        )

    def add_correction(
        self,
        prompt: str,
        task: str,
        difficulty: str,
        source: str,
        *,
        turn_id: int | None = None,
        routed: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> int:
        """Record a user's label for a prompt; ``routed``: the decision it corrects (JSON)."""
        from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

        if task not in TASKS or difficulty not in DIFFICULTIES or source not in CORRECTION_SOURCES:
            raise ValueError(f"bad correction label {task}/{difficulty} ({source})")
        r = routed or {}
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO corrections (prompt, task, difficulty, created_at, source, turn_id, "
                "routed_task, routed_difficulty, routed_model, model) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    prompt,
                    task,
                    difficulty,
                    _ts(self._clock()),
                    source,
                    turn_id,
                    r.get("task"),
                    r.get("difficulty"),
                    r.get("model"),
                    model,
                ),
            )
        return int(cursor.lastrowid or 0)

    def corrections(self, limit: int | None = None) -> list[CorrectionRecord]:
        """Newest first (``limit``: at most that many)."""
        rows = self._read(
            "SELECT * FROM corrections ORDER BY created_at DESC, id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [
            CorrectionRecord(
                id=row["id"],
                prompt=row["prompt"],
                task=row["task"],
                difficulty=row["difficulty"],
                created_at=datetime.fromisoformat(row["created_at"]),
                source=row["source"],
                turn_id=row["turn_id"],
                routed_task=row["routed_task"],
                routed_difficulty=row["routed_difficulty"],
                routed_model=row["routed_model"],
                model=row["model"],
            )
            for row in rows
        ]

    def delete_correction(self, correction_id: int) -> bool:
        """True when it existed."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM corrections WHERE id = ?", (correction_id,))
        return cursor.rowcount > 0

    def delete_session(self, session_id: str) -> str:
        """Delete a session and its turns (``last`` or a unique prefix accepted); returns its id."""
        resolved = self.resolve(session_id)
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE id = ?", (resolved,))
        return resolved

    # -- reading ----------------------------------------------------------------------------
    def resolve(self, ref: str, kind: str | None = None) -> str:
        """A full id from ``last``, a full id, or a unique prefix; UsageError otherwise."""
        text = ref.strip().lower()
        if text == "last":
            latest = self.latest_session_id(kind)
            if latest is None:
                raise UsageError("no sessions yet (kilo chat or kilo ask starts one)")
            return latest
        if text and all(c in _ID_ALPHABET for c in text):
            rows = self._read(
                "SELECT id FROM sessions WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6",
                (len(text), text),
            )
            ids = [row["id"] for row in rows]
            if text in ids or len(ids) == 1:
                return text if text in ids else ids[0]
            if ids:
                shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
                raise UsageError(f"session id '{ref}' is ambiguous: {shown}")
        raise UsageError(f"no session '{ref}' (kilo sessions list)")

    def latest_session_id(self, kind: str | None = None) -> str | None:
        """The most recently used session (of ``kind`` when given)."""
        sql = "SELECT id FROM sessions"
        params: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        rows = self._read(sql + " ORDER BY updated_at DESC, id DESC LIMIT 1", params)
        return rows[0]["id"] if rows else None

    def list_sessions(self, limit: int = 20) -> list[SessionSummary]:
        """Most recently used first."""
        rows = self._read(
            "SELECT s.id, s.kind, s.tier, s.title, s.created_at, s.updated_at, "
            "count(t.id) AS turns, coalesce(sum(t.cost_usd), 0.0) AS cost, "
            f"coalesce(sum({_UNPRICED}), 0) AS unpriced, group_concat(DISTINCT t.model) AS models "
            "FROM sessions s LEFT JOIN turns t ON t.session_id = s.id "
            "GROUP BY s.id ORDER BY s.updated_at DESC, s.id DESC LIMIT ?",
            (limit,),
        )
        return [
            SessionSummary(
                id=row["id"],
                kind=row["kind"],
                tier=row["tier"],
                title=row["title"],
                created_at=datetime.fromisoformat(row["created_at"]),
                updated_at=datetime.fromisoformat(row["updated_at"]),
                turns=row["turns"],
                cost_usd=float(row["cost"]),
                unpriced_turns=row["unpriced"],
                models=sorted(row["models"].split(",")) if row["models"] else [],
            )
            for row in rows
        ]

    def session(self, session_id: str) -> SessionRecord:
        """A session with its turns in order (``last`` and unique prefixes accepted)."""
        resolved = self.resolve(session_id)
        with self._lock:
            head = self._conn.execute("SELECT * FROM sessions WHERE id = ?", (resolved,)).fetchone()
            rows = self._conn.execute(
                "SELECT t.*, d.data AS decision_data, u.data AS usage_data FROM turns t "
                "LEFT JOIN decisions d ON d.turn_id = t.id LEFT JOIN usage u ON u.turn_id = t.id "
                "WHERE t.session_id = ? ORDER BY t.seq",
                (resolved,),
            ).fetchall()
        if head is None:  # deleted by another process between resolve and read
            raise UsageError(f"no session '{session_id}' (kilo sessions list)")
        return SessionRecord(
            id=head["id"],
            kind=head["kind"],
            tier=head["tier"],
            title=head["title"],
            created_at=datetime.fromisoformat(head["created_at"]),
            updated_at=datetime.fromisoformat(head["updated_at"]),
            turns=[_turn(row) for row in rows],
        )

    def search(self, query: str, *, limit: int = 20, snippet_words: int = 16) -> list[SearchHit]:
        """Turns whose prompt or answer match an FTS5 ``query`` (see kilocli/search_query.py),
        best first (bm25, a prompt match weighing twice an answer match)."""
        from kilocli.search_query import MATCH_END, MATCH_START

        try:
            # rank in the index alone first, then read turns, sessions and snippets for the top
            # few only; CROSS JOIN fixes that loop order (the planner would rescan every match,
            # 3x slower for a common word over 100,000 turns: bench/search_speed.py)
            rows = self._read(
                "WITH top AS (SELECT rowid AS id, bm25(turns_fts, 2.0, 1.0) AS score "
                "FROM turns_fts WHERE turns_fts MATCH ? ORDER BY score, rowid DESC LIMIT ?) "
                "SELECT t.id, t.session_id, t.seq, t.created_at, t.model, t.task, t.difficulty, "
                "t.status, s.kind, s.title, snippet(turns_fts, -1, ?, ?, '…', ?) AS snip, "
                "top.score FROM top CROSS JOIN turns_fts CROSS JOIN turns t "
                "CROSS JOIN sessions s WHERE turns_fts.rowid = top.id AND turns_fts MATCH ? "
                "AND t.id = top.id AND s.id = t.session_id ORDER BY top.score, top.id DESC",
                (query, limit, MATCH_START, MATCH_END, snippet_words, query),
            )
        except sqlite3.OperationalError as exc:
            if "fts5" not in str(exc) and "no such column" not in str(exc):
                raise
            # a raw query the user wrote in FTS5 syntax, and got wrong
            raise UsageError(f"search query {query!r}: {exc}") from None
        return [
            SearchHit(
                session_id=row["session_id"],
                turn_id=row["id"],
                seq=row["seq"],
                kind=row["kind"],
                title=row["title"],
                created_at=datetime.fromisoformat(row["created_at"]),
                model=row["model"],
                task=row["task"],
                difficulty=row["difficulty"],
                status=row["status"],
                snippet=row["snip"] or "",
                score=float(row["score"]),
            )
            for row in rows
        ]

    def turns_for_replay(self, since: datetime | None = None) -> list[TurnRecord]:
        """Every turn with its stored decision and usage, oldest first (kilo stats --what-if);
        turns that failed before any answer are left out, as in stats()."""
        where, params = "WHERE t.status != 'error'", ()
        if since:
            where, params = f"{where} AND t.created_at >= ?", (_ts(since),)
        rows = self._read(
            "SELECT t.*, d.data AS decision_data, u.data AS usage_data FROM turns t "
            "LEFT JOIN decisions d ON d.turn_id = t.id LEFT JOIN usage u ON u.turn_id = t.id "
            f"{where} ORDER BY t.id",
            params,
        )
        return [_turn(row) for row in rows]

    def stats(self, since: datetime | None = None) -> Stats:
        """Spend by local day, by model, turns by task bucket, and actual vs frontier cost.

        A turn that failed before any answer (status "error": auth, bad request, every attempt
        failed) cost nothing and is left out, so it adds no "$0.00" session or turn."""
        where, params = "WHERE t.status != 'error'", ()
        if since:
            where, params = f"{where} AND t.created_at >= ?", (_ts(since),)
        with self._lock:
            q = self._conn.execute
            total = q(
                "SELECT count(*) AS turns, count(DISTINCT t.session_id) AS sessions, "
                "coalesce(sum(t.cost_usd), 0.0) AS cost, "
                f"coalesce(sum({_UNPRICED}), 0) AS unpriced, "
                "coalesce(sum(t.input_tokens), 0) AS tin, "
                "coalesce(sum(t.output_tokens), 0) AS tout "
                f"FROM turns t {where}",
                params,
            ).fetchone()
            spend = (
                f"count(*) AS turns, coalesce(sum(t.cost_usd), 0.0) AS cost, "
                f"coalesce(sum({_UNPRICED}), 0) AS unpriced FROM turns t {where}"
            )
            days = q(
                f"SELECT date(t.created_at, 'localtime') AS k, {spend} GROUP BY k ORDER BY k",
                params,
            ).fetchall()
            models = q(
                f"SELECT coalesce(t.model, '-') AS k, {spend} GROUP BY k "
                "ORDER BY cost DESC, turns DESC, k",
                params,
            ).fetchall()
            cells = q(
                "SELECT coalesce(t.task, '-') AS task, coalesce(t.difficulty, '-') AS difficulty, "
                "count(*) AS turns, coalesce(sum(t.cost_usd), 0.0) AS cost, "
                f"coalesce(sum({_UNPRICED}), 0) AS unpriced "
                f"FROM turns t {where} GROUP BY task, difficulty",
                params,
            ).fetchall()
            served = q(
                "SELECT count(*) FROM turns t JOIN sessions s ON s.id = t.session_id "
                f"{where} AND s.kind = 'serve'",
                params,
            ).fetchone()[0]
            both = "t.cost_usd IS NOT NULL AND t.frontier_cost_usd IS NOT NULL"
            compared = q(
                "SELECT count(*) AS turns, coalesce(sum(t.cost_usd), 0.0) AS cost, "
                "coalesce(sum(t.frontier_cost_usd), 0.0) AS frontier FROM turns t "
                + f"{where} AND {both}",
                params,
            ).fetchone()
        tasks: dict[str, TaskRow] = {}
        for row in cells:
            current = tasks.get(row["task"]) or TaskRow(row["task"], 0, 0.0, 0, {})
            difficulties = dict(current.difficulties)
            difficulties[row["difficulty"]] = difficulties.get(row["difficulty"], 0) + row["turns"]
            tasks[row["task"]] = TaskRow(
                row["task"],
                current.turns + row["turns"],
                current.cost_usd + row["cost"],
                current.unpriced_turns + row["unpriced"],
                difficulties,
            )
        return Stats(
            since=since,
            sessions=total["sessions"],
            turns=total["turns"],
            cost_usd=float(total["cost"]),
            unpriced_turns=total["unpriced"],
            input_tokens=total["tin"],
            output_tokens=total["tout"],
            by_day=[_spend(r) for r in days],
            by_model=[_spend(r) for r in models],
            by_task=sorted(tasks.values(), key=lambda r: (-r.turns, r.task)),
            compared_turns=compared["turns"],
            compared_cost_usd=float(compared["cost"]),
            frontier_cost_usd=float(compared["frontier"]),
            served_turns=served,
        )


def _spend(row: sqlite3.Row) -> SpendRow:
    return SpendRow(row["k"], row["turns"], float(row["cost"]), row["unpriced"])


def _turn(row: sqlite3.Row) -> TurnRecord:
    return TurnRecord(
        id=row["id"],
        seq=row["seq"],
        prompt=row["prompt"],
        files=json.loads(row["files"]),
        answer=row["answer"],
        status=row["status"],
        tier=row["tier"],
        model=row["model"],
        provider=row["provider"],
        task=row["task"],
        difficulty=row["difficulty"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cached_input_tokens=row["cached_input_tokens"],
        estimated_cost_usd=row["estimated_cost_usd"],
        cost_usd=row["cost_usd"],
        frontier_cost_usd=row["frontier_cost_usd"],
        latency_ms=row["latency_ms"],
        error=row["error"],
        created_at=datetime.fromisoformat(row["created_at"]),
        finished_at=_dt(row["finished_at"]),
        decision=json.loads(row["decision_data"]) if row["decision_data"] else None,
        usage=json.loads(row["usage_data"]) if row["usage_data"] else None,
        cache_write_tokens=row["cache_write_tokens"],
    )
