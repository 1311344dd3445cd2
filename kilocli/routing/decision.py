"""What route() returns and takes: the Decision with its candidates, the constraints and request,
the two refusals, and the stable ``--json`` contract (STABLE_JSON_KEYS) scripts rely on.

Plain data: no routing logic and no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from kilocli.errors import UsageError


class NoCandidate(UsageError):
    """Every model of the pool was filtered out; the message says which filter removed what."""


class OverCap(UsageError):
    """A pinned model's estimate is over the cost cap (or cannot be shown to be under it)."""


# The `--json` contract: keys every decision object carries (scripts rely on them; more may follow).
STABLE_JSON_KEYS: frozenset[str] = frozenset(
    {
        "task",
        "difficulty",
        "task_probs",
        "difficulty_probs",
        "margin",
        "tier",
        "model",
        "provider",
        "estimated_cost_usd",
        "input_tokens",
        "expected_output_tokens",
        "frontier_model",
        "frontier_cost_usd",
        "fallback_used",
        "candidates",
    }
)
STABLE_CANDIDATE_KEYS: frozenset[str] = frozenset(
    {"model", "skill", "bar", "adequate", "estimated_cost_usd", "reason"}
)


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
    force: bool = False  # call a pinned model even when its estimate is over the cost cap


@dataclass(frozen=True)
class RouteRequest:
    input_tokens: int  # tokens of everything that will be sent (system + history + turn + files)


@dataclass(frozen=True)
class Candidate:
    model: str
    provider: str | None
    skill: float | None
    bar: float
    # meets the bar and passed every filter: the engine may fall back to it
    adequate: bool
    estimated_cost_usd: float | None  # None = unpriced
    reason: str  # why adequate / why not ("below the bar", "context 128,000 < 150,000", ...)
    eligible: bool = True  # passed the filters (reachable, not excluded, fits, within the cap)
    skill_basis: str | None = None  # where the skill figure comes from


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
    sticky: bool = False  # kept the session's model where the rules alone would have switched
    no_provider_configured: bool = False
    notes: list[str] = field(default_factory=list)
    max_cost_usd: float | None = None  # the per-turn cap the decision was made under
    bar: float | None = None  # the cell's bar (pool.bars[difficulty])
    skill: float | None = None  # the chosen model's skill for the cell
    pinned: bool = False

    def to_json(self) -> dict[str, Any]:
        """Stable keys (the dataclass fields, so Decision(**json) round-trips), rounded figures."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["task_probs"] = {k: _r4(v) for k, v in self.task_probs.items()}
        out["difficulty_probs"] = {k: _r4(v) for k, v in self.difficulty_probs.items()}
        out["margin"] = _r4(self.margin)
        out["difficulty_margin"] = _r4(self.difficulty_margin)
        out["estimated_cost_usd"] = _usd(self.estimated_cost_usd)
        out["frontier_cost_usd"] = _usd(self.frontier_cost_usd)
        out["bar"] = _r4(self.bar)
        out["skill"] = _r4(self.skill)
        out["notes"] = list(self.notes)
        out["candidates"] = [
            {
                **{f.name: getattr(c, f.name) for f in fields(c)},
                "skill": _r4(c.skill),
                "bar": _r4(c.bar),
                "estimated_cost_usd": _usd(c.estimated_cost_usd),
            }
            for c in self.candidates
        ]
        return out


def _r4(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _usd(value: float | None) -> float | None:
    # six significant digits: exact enough for sub-cent estimates, free of float noise
    return None if value is None else float(f"{value:.6g}")
