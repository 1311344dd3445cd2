"""Money held against budgets: what was spent, and reservations for calls in flight.

A turn counts at its cost once known, else at what its call reserved (its worst case), so two
processes starting calls at once cannot both spend the last of a budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kilocli.store.base import StoreBase
from kilocli.store.values import ts

if TYPE_CHECKING:
    import sqlite3

    from kilocli.budget import Spent

# what a turn counts against a budget: its cost once known, else what its call reserved
_SPEND = "coalesce(cost_usd, reserved_usd, 0.0)"


class Spending(StoreBase):
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
                ts(day),
                ts(month),
                ts(month),
                session_id,
                -1 if exclude_turn is None else exclude_turn,
            ),
        ).fetchone()
        return Spent(session=float(row["s"]), day=float(row["d"]), month=float(row["m"]))
