"""Personal examples: the user's own corrections, as labeled turns for the classifier (pure).

A correction (``kilo route --teach``, ``/wrong``, ``/retry --up``, ``kilo ask --up``) is stored with
the prompt and the label the user wanted. The newest ``CAP`` of them become personal examples; each
weighs ``0.5 ** (age / HALF_LIFE_DAYS)``, so an old habit fades as new corrections arrive. How they
enter the classifier (kilocli/routing/classifier/, ``Classifier.personalised``, PERSONAL_WEIGHT):
as a local term on their bucket's score for requests whose plain MiniLM cosine with them passes a
floor, so they decide requests that resemble them and leave unrelated ones alone.

Reading the store and caching the vectors (keyed by ``text_key``) is I/O, in
kilocli/personal_io.py; this module only selects, weighs, keys and parses labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

CAP = 1000  # newest corrections used as examples; older ones stay stored but are not used
HALF_LIFE_DAYS = 180.0  # a correction this old counts half as much as a new one


@dataclass(frozen=True)
class PersonalExample:
    id: int  # the correction's id in the store (kilo examples rm ID)
    text: str
    task: str
    difficulty: str
    weight: float = 1.0  # recency weight in (0, 1]


def recency_weight(created_at: datetime, now: datetime) -> float:
    age_days = max((now - created_at).total_seconds() / 86400.0, 0.0)
    return float(0.5 ** (age_days / HALF_LIFE_DAYS))


def select(
    corrections: Iterable[tuple[int, str, str, str, datetime]],
    now: datetime,
    cap: int = CAP,
) -> list[PersonalExample]:
    """(id, prompt, task, difficulty, created_at) rows -> the newest ``cap`` as weighted examples.

    Rows with an unknown label (written by another version) are skipped; when the same prompt was
    labeled more than once, the newest label wins.
    """
    rows = sorted(corrections, key=lambda r: (r[4], r[0]), reverse=True)
    out: list[PersonalExample] = []
    seen: set[str] = set()
    for cid, text, task, difficulty, created_at in rows:
        if task not in TASKS or difficulty not in DIFFICULTIES or not text.strip():
            continue
        if text in seen:
            continue
        seen.add(text)
        out.append(PersonalExample(cid, text, task, difficulty, recency_weight(created_at, now)))
        if len(out) >= cap:
            break
    return out


def text_key(text: str) -> str:
    """The key of a text's cached vector."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def parse_label(words: Sequence[str], what: str) -> tuple[str, str]:
    """``["edit/easy"]`` or ``["edit", "easy"]`` -> ("edit", "easy"); a UsageError naming ``what``
    (the flag or command) and the allowed values otherwise."""
    from kilocli.errors import UsageError

    parts = [p for w in words for p in w.replace("/", " ").split()]
    allowed = f"tasks: {', '.join(TASKS)}; difficulties: {', '.join(DIFFICULTIES)}"
    if len(parts) != 2:
        given = " ".join(words) or "nothing"
        raise UsageError(f"{what}: expected TASK/DIFFICULTY, got {given!r} ({allowed})")
    task, difficulty = (p.lower() for p in parts)
    if task not in TASKS:
        raise UsageError(f"{what}: unknown task {parts[0]!r} ({allowed})")
    if difficulty not in DIFFICULTIES:
        raise UsageError(f"{what}: unknown difficulty {parts[1]!r} ({allowed})")
    return task, difficulty


def escalated_label(task: str, difficulty: str) -> tuple[str, str]:
    """What an escalation (/retry --up, kilo ask --up) says about a turn: the routed model was too
    weak, so the request is one level harder than it was classified (hard stays hard)."""
    level = min(DIFFICULTIES.index(difficulty) + 1, len(DIFFICULTIES) - 1)
    return task, DIFFICULTIES[level]
