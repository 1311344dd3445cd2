"""One-line summaries of a turn, as plain strings (no Rich: `kilo route` prints one cold)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilocli.routing.cost import format_usd

if TYPE_CHECKING:
    from kilocli.engine import TurnOutcome
    from kilocli.routing.router import Decision


def summary_line(decision: Decision) -> str:
    """One line for stderr before a call: where the turn goes and what it should cost."""
    where = f"{decision.model}" + (f" via {decision.provider}" if decision.provider else "")
    parts = [
        f"{decision.task}/{decision.difficulty}",
        f"{decision.tier}",
        f"→ {where}",
        f"est. {format_usd(decision.estimated_cost_usd)}",
    ]
    if decision.frontier_model and decision.frontier_model != decision.model:
        parts.append(f"(frontier {format_usd(decision.frontier_cost_usd)})")
    return "  ".join(parts)


def outcome_line(outcome: TurnOutcome) -> str:
    """After an answer (kilo ask): model, cell, estimate -> cost, tokens, seconds."""
    d = outcome.decision
    parts = [
        outcome.model + (f" via {outcome.provider}" if outcome.provider else ""),
        f"{d.task}/{d.difficulty}",
        f"est. {format_usd(d.estimated_cost_usd)} → {format_usd(outcome.cost_usd)}",
        f"{outcome.input_tokens:,} in / {outcome.output_tokens:,} out",
        f"{outcome.duration_ms / 1000:.1f}s",
    ]
    return " · ".join(parts)
