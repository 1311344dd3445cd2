"""Corrections: the user's own labels for prompts, used as personal routing examples."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kilocli.store.base import StoreBase
from kilocli.store.records import CORRECTION_SOURCES, CorrectionRecord
from kilocli.store.values import ts


class Corrections(StoreBase):
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
                    ts(self._clock()),
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
