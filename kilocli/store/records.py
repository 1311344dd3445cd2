"""What the store hands back: sessions, turns, stats, search hits and corrections.

Plain frozen dataclasses with no database in them; ``to_json`` gives what ``--json`` prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# How a correction was made (corrections.source).
CORRECTION_SOURCES = ("teach", "wrong", "retry-up", "ask-up")


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
        return jsonable(asdict(self))


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
        data = jsonable(asdict(self))
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
        return jsonable(asdict(self))


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value
