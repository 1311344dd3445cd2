"""Writing turns and sessions: a turn is recorded before the provider call and finished after.

A crash never loses the prompt (``start_turn`` commits it first) nor the partial answer
(``save_partial`` keeps it while it streams); ``finish_turn`` writes the answer, the decision and
the usage in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kilocli.errors import KiloError, UsageError
from kilocli.store.reads import Reads
from kilocli.store.values import dumps, flag, new_session_id, title_of, ts, usage_int

if TYPE_CHECKING:
    import sqlite3

FINISHED_STATUSES = ("ok", "incomplete", "error", "interrupted")


class Writes(Reads):
    def new_session(self, kind: str, tier: str, title: str | None = None) -> str:
        now = self._clock()
        with self._write() as conn:
            while True:
                session_id = new_session_id(now)
                exists = conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,))
                if exists.fetchone() is None:
                    break
            conn.execute(
                "INSERT INTO sessions (id, kind, tier, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, kind, tier, title_of(title) if title else None, ts(now), ts(now)),
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
        now = ts(self._clock())
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
                    dumps(list(files)),
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
            title = row["title"] or title_of(prompt)
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
        input_tokens = usage_int(u, "input_tokens", "prompt_tokens")
        output_tokens = usage_int(u, "output_tokens", "completion_tokens")
        cached = usage_int(u, "cached_input_tokens", "cached_tokens")
        cache_write = usage_int(u, "cache_write_tokens")
        # a call's reservation is released once its cost is known, or when nothing came back
        # from it; a cut or stopped answer of unknown cost keeps counting its worst case
        keep_reserved = cost_usd is None and (bool(answer) or status in ("incomplete",))
        now = ts(self._clock())
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
                        dumps(usage),
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
                flag(d.get("fallback_used")),
                flag(d.get("sticky")),
                d.get("margin"),
                d.get("reason"),
                dumps(d),
            ),
        )

    def delete_session(self, session_id: str) -> str:
        """Delete a session and its turns (``last`` or a unique prefix accepted); returns its id."""
        resolved = self.resolve(session_id)
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE id = ?", (resolved,))
        return resolved
