"""`kilo stats --what-if TIER`: the stored turns replayed under another tier, and what it costs.

Pure: each stored decision's classification (task, difficulty, their probabilities and margins)
goes back through the router with the other tier's pool (``decide`` is injected), and the turn is
priced at the chosen model's rates from the tokens the turn really used. A turn with no usage
recorded (it failed, or was cut before the provider reported any) is priced from the router's own
estimate on both sides, and counted as estimated. Replays are one turn at a time: the sticky rule
of a session is not replayed (a chat would stay on its model more often than this shows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kilocli.routing.cost import usage_cost

if TYPE_CHECKING:
    from kilocli.routing.classifier import Classification
    from kilocli.routing.pools import Catalogue
    from kilocli.routing.router import Decision
    from kilocli.store import TurnRecord

Decide = Callable[["Classification", int], "Decision"]


@dataclass
class ModelShare:
    model: str
    turns: int = 0
    cost_usd: float = 0.0


@dataclass
class WhatIf:
    tier: str
    turns: int = 0  # replayed
    changed: int = 0  # the other tier would have picked another model
    estimated: int = 0  # priced from estimates (no usage recorded)
    skipped: int = 0  # no stored classification, or no price on one side
    actual_cost_usd: float = 0.0
    what_if_cost_usd: float = 0.0
    by_model: dict[str, ModelShare] = field(default_factory=dict)  # the other tier's picks

    @property
    def difference_usd(self) -> float:
        """Positive: the other tier would have cost more."""
        return self.what_if_cost_usd - self.actual_cost_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "turns": self.turns,
            "changed_model": self.changed,
            "estimated_turns": self.estimated,
            "skipped_turns": self.skipped,
            "actual_cost_usd": round(self.actual_cost_usd, 10),
            "what_if_cost_usd": round(self.what_if_cost_usd, 10),
            "difference_usd": round(self.difference_usd, 10),
            "by_model": [
                {"model": m.model, "turns": m.turns, "cost_usd": round(m.cost_usd, 10)}
                for m in sorted(self.by_model.values(), key=lambda m: (-m.cost_usd, m.model))
            ],
        }


def classification_of(decision: dict[str, Any]) -> Classification | None:
    """The classification a stored decision was made from; None when it lacks one."""
    from kilocli.routing.classifier import Classification

    try:
        return Classification(
            task=str(decision["task"]),
            difficulty=str(decision["difficulty"]),
            task_probs=dict(decision["task_probs"]),
            difficulty_probs=dict(decision["difficulty_probs"]),
            task_margin=float(decision["margin"]),
            difficulty_margin=float(decision.get("difficulty_margin", 0.0)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def replay(turns: Sequence[TurnRecord], tier: str, decide: Decide, catalogue: Catalogue) -> WhatIf:
    result = WhatIf(tier=tier)
    for turn in turns:
        stored = turn.decision or {}
        classification = classification_of(stored)
        input_tokens = stored.get("input_tokens")
        if classification is None or not isinstance(input_tokens, int):
            result.skipped += 1
            continue
        if stored.get("pinned"):
            other_model, other_estimate = turn.model or "", turn.estimated_cost_usd
        else:
            other = decide(classification, input_tokens)
            other_model, other_estimate = other.model, other.estimated_cost_usd
        spec = catalogue.models.get(other_model)
        used = bool(turn.input_tokens or turn.output_tokens)
        if used and spec is not None and turn.cost_usd is not None:
            actual: float | None = turn.cost_usd
            what_if = usage_cost(
                spec,
                turn.input_tokens or 0,
                turn.output_tokens or 0,
                turn.cached_input_tokens or 0,
            )
            estimated = False
        else:
            actual = turn.cost_usd
            if actual is None:
                actual = stored.get("estimated_cost_usd")
            what_if, estimated = other_estimate, True
        if actual is None or what_if is None:
            result.skipped += 1
            continue
        result.turns += 1
        result.estimated += estimated
        result.changed += other_model != (turn.model or stored.get("model"))
        result.actual_cost_usd += actual
        result.what_if_cost_usd += what_if
        share = result.by_model.setdefault(other_model, ModelShare(other_model))
        share.turns += 1
        share.cost_usd += what_if
    return result
