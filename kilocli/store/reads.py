"""Reading the store: resolving session ids, listing sessions, whole sessions, and stats."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kilocli.errors import UsageError
from kilocli.store.base import StoreBase
from kilocli.store.records import (
    SessionRecord,
    SessionSummary,
    SpendRow,
    Stats,
    TaskRow,
    TurnRecord,
)
from kilocli.store.values import ID_ALPHABET, dt, ts

if TYPE_CHECKING:
    import sqlite3

# a turn that produced output but has no known cost (an unpriced model): never shown as $0
_UNPRICED = "CASE WHEN t.status IN ('ok', 'incomplete') AND t.cost_usd IS NULL THEN 1 ELSE 0 END"


class Reads(StoreBase):
    def resolve(self, ref: str, kind: str | None = None) -> str:
        """A full id from ``last``, a full id, or a unique prefix; UsageError otherwise."""
        text = ref.strip().lower()
        if text == "last":
            latest = self.latest_session_id(kind)
            if latest is None:
                raise UsageError("no sessions yet (kilo chat or kilo ask starts one)")
            return latest
        if text and all(c in ID_ALPHABET for c in text):
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

    def turns_for_replay(self, since: datetime | None = None) -> list[TurnRecord]:
        """Every turn with its stored decision and usage, oldest first (kilo stats --what-if);
        turns that failed before any answer are left out, as in stats()."""
        where, params = "WHERE t.status != 'error'", ()
        if since:
            where, params = f"{where} AND t.created_at >= ?", (ts(since),)
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
            where, params = f"{where} AND t.created_at >= ?", (ts(since),)
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
        finished_at=dt(row["finished_at"]),
        decision=json.loads(row["decision_data"]) if row["decision_data"] else None,
        usage=json.loads(row["usage_data"]) if row["usage_data"] else None,
        cache_write_tokens=row["cache_write_tokens"],
    )
