"""Full-text search over prompts and answers (the FTS5 index of migration 3)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from kilocli.errors import UsageError
from kilocli.store.base import StoreBase
from kilocli.store.records import SearchHit


class Search(StoreBase):
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
