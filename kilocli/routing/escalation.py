"""Escalation: the next stronger model for a decided turn (`/retry --up`, `kilo ask --up`).

A pure function beside route(): no I/O, no settings; the caller passes the pools to search.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from kilocli.routing.cost import estimate_cost
from kilocli.routing.pools import Catalogue, TierPool
from kilocli.routing.router import Decision


def stronger(
    decision: Decision,
    pools: Sequence[TierPool],
    catalogue: Catalogue,
    reachable: Mapping[str, str] | None,
    excluded: Collection[str] = (),
) -> Decision | None:
    """The cheapest model of ``pools`` more skilled than the decision's for the same cell (ties:
    the more skilled, then by id), skipping excluded and unreachable ones (``reachable`` None: no
    provider configured, every model counts); None when nothing is stronger."""
    cell = (decision.task, decision.difficulty)
    current = catalogue.models.get(decision.model)
    floor = current.skills[cell].value if current and cell in current.skills else -1.0
    names = dict.fromkeys(m for pool in pools for m in pool.models)
    best: tuple[float, float, str] | None = None
    for model_id in names:
        spec = catalogue.models.get(model_id)
        if spec is None or cell not in spec.skills or model_id in excluded:
            continue
        if reachable is not None and model_id not in reachable:
            continue
        skill = spec.skills[cell].value
        if skill <= floor:
            continue
        cost = estimate_cost(spec.price, decision.input_tokens, decision.expected_output_tokens)
        key = (float("inf") if cost is None else cost, -skill, model_id)
        if best is None or key < best:
            best = key
    if best is None:
        return None
    cost, neg_skill, model_id = best
    return replace(
        decision,
        model=model_id,
        provider=None if reachable is None else reachable.get(model_id),
        estimated_cost_usd=None if cost == float("inf") else cost,
        skill=-neg_skill,
        fallback_used=False,
        sticky=False,
        pinned=False,
        reason=(
            f"retry with a stronger model: {model_id} (skill {-neg_skill:.2f} for "
            f"{decision.task}/{decision.difficulty}, was {decision.model} {max(floor, 0):.2f})"
        ),
    )
