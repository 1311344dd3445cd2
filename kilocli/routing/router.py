"""Decision = route(classification, request, pool, catalogue, constraints): pure (STUB: types fixed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Constraints:
    # model id -> provider name that would serve it; None = no provider configured at all
    # (then the router still decides over the whole pool and says so)
    reachable: dict[str, str] | None = None
    exclude: frozenset[str] = frozenset()
    pin: str | None = None  # a pinned model id: no routing
    max_cost_usd: float | None = None  # per-turn cap on the estimate
    current_model: str | None = None  # the session's model so far (sticky sessions)
    cached_input_tokens: int = 0  # prefix already in the current model's provider cache


@dataclass(frozen=True)
class RouteRequest:
    input_tokens: int  # tokens of everything that will be sent (system + history + turn + files)


@dataclass(frozen=True)
class Candidate:
    model: str
    provider: str | None
    skill: float | None
    bar: float
    adequate: bool
    estimated_cost_usd: float | None  # None = unpriced
    reason: str  # why adequate / why not ("below bar 0.70", "context 128k < 150k", "excluded", ...)


@dataclass(frozen=True)
class Decision:
    task: str
    difficulty: str
    task_probs: dict[str, float]
    difficulty_probs: dict[str, float]
    margin: float  # task margin (top1 - top2 probability)
    difficulty_margin: float
    tier: str
    model: str
    provider: str | None
    estimated_cost_usd: float | None
    input_tokens: int
    expected_output_tokens: int
    frontier_model: str | None
    frontier_cost_usd: float | None
    fallback_used: bool
    candidates: list[Candidate]
    reason: str  # one sentence: why this model
    sticky: bool = False  # kept the session's model
    no_provider_configured: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
