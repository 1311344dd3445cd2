"""Nearest-centroid classifier over MiniLM embeddings, with session context (STUB: types fixed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Classification:
    task: str
    difficulty: str
    task_probs: dict[str, float]  # over taxonomy.TASKS, sums to 1
    difficulty_probs: dict[str, float]  # over taxonomy.DIFFICULTIES, sums to 1
    task_margin: float  # top1 - top2 probability
    difficulty_margin: float
    context_weight: float = 0.0  # how much earlier turns contributed (0 = the turn alone decided)
