"""Decision = route(classification, request, pool, catalogue, constraints): pure.

No network, no terminal, no clock: the same inputs give the same Decision, so it can be printed
(`--explain`), stored, tested and benchmarked alone. It runs per keystroke pause in the chat
toolbar, so it stays well under a millisecond for a 20-model pool.

The rules (README "Tiers", docs/pools.md; sticky sessions and "never below balanced" come from
Kilo's Auto Efficient design):
1. Filter the pool: known and not deprecated, not excluded, reachable (a configured provider
   serves it; when no provider is configured at all, decide over the whole pool and say so),
   context window fits input + expected output, estimate within the per-turn cost cap.
2. Pick: "cheapest_adequate" -> the cheapest model whose skill for the cell meets the bar (ties:
   more skilled), else the most skilled, saying so; "ordered" -> the first model left. With the
   pool's floor_tolerance, a model is adequate only if its skill for the cell is also at least the
   balanced model's (the first reachable fallback) less the tolerance: never below balanced.
3. Sticky sessions: keep the session's model while it meets the bar unless the new pick is
   cheaper by more than the pool's switch factor; its estimate counts the cached prompt at the
   cached-input price, the others pay full input price (a switch throws the cache away).
4. Unsure: when the task margin is below the pool's min_margin, or the cell has no figure for
   the pick, use the tier's fallback (the first of its chain that passes the filters).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kilocli.errors import PoolError
from kilocli.routing.candidates import (
    FILTER_WORDS,
    RouteContext,
    Row,
    evaluate,
    nothing_fits,
    resolve_model_id,
)
from kilocli.routing.cost import format_usd
from kilocli.routing.decision import (
    STABLE_CANDIDATE_KEYS,
    STABLE_JSON_KEYS,
    Candidate,
    Constraints,
    Decision,
    NoCandidate,
    OverCap,
    RouteRequest,
)
from kilocli.routing.pools import Catalogue, TierPool
from kilocli.routing.taxonomy import CHEAPEST_ADEQUATE, ORDERED

if TYPE_CHECKING:  # the classifier package imports numpy: not needed to route
    from kilocli.routing.classifier import Classification

__all__ = [  # the decision's types are re-exported: importers know them from here
    "STABLE_CANDIDATE_KEYS",
    "STABLE_JSON_KEYS",
    "Candidate",
    "Constraints",
    "Decision",
    "NoCandidate",
    "OverCap",
    "RouteRequest",
    "route",
]


def route(
    classification: Classification,
    request: RouteRequest,
    pool: TierPool,
    catalogue: Catalogue,
    constraints: Constraints,
    frontier: TierPool | None = None,
) -> Decision:
    """Choose the model for one turn. Raises NoCandidate when every model is filtered out and
    UsageError for an unknown pinned model."""
    task, difficulty = classification.task, classification.difficulty
    bar = _lookup(pool, pool.bars, difficulty, "bars")
    output_tokens = _lookup(pool, pool.expected_output_tokens, task, "expected_output_tokens")
    input_tokens = max(0, request.input_tokens)
    ctx = RouteContext(task, difficulty, bar, input_tokens, output_tokens, constraints)
    notes: list[str] = []
    if constraints.reachable is None:
        notes.append(
            "no provider is configured: the choice is made over the whole pool; "
            "set a provider key to call it"
        )
    frontier_model, frontier_cost = _frontier(frontier, catalogue, ctx)

    def decision(
        row: Row,
        candidates: list[Row],
        reason: str,
        *,
        fallback_used: bool = False,
        sticky: bool = False,
        pinned: bool = False,
    ) -> Decision:
        return Decision(
            task=task,
            difficulty=difficulty,
            task_probs=dict(classification.task_probs),
            difficulty_probs=dict(classification.difficulty_probs),
            margin=classification.task_margin,
            difficulty_margin=classification.difficulty_margin,
            tier=pool.name,
            model=row.model,
            provider=row.provider,
            estimated_cost_usd=row.cost,
            input_tokens=input_tokens,
            expected_output_tokens=output_tokens,
            frontier_model=frontier_model,
            frontier_cost_usd=frontier_cost,
            candidates=[r.candidate(bar) for r in candidates],
            reason=reason,
            no_provider_configured=constraints.reachable is None,
            notes=notes,
            max_cost_usd=constraints.max_cost_usd,
            bar=bar,
            skill=row.skill,
            fallback_used=fallback_used,
            sticky=sticky,
            pinned=pinned,
        )

    if constraints.pin is not None:
        row = _pinned_row(constraints.pin, catalogue, ctx, notes)
        return decision(row, [row], f"pinned: {row.model} (routing skipped)", pinned=True)

    if pool.rule == CHEAPEST_ADEQUATE and pool.floor_tolerance is not None:
        ctx = _with_floor(pool, catalogue, ctx)
    rows = [evaluate(m, i, catalogue, ctx) for i, m in enumerate(pool.models)]
    eligible = [r for r in rows if r.eligible]
    if not eligible:
        raise NoCandidate(nothing_fits(pool, rows, ctx))

    if pool.rule == ORDERED:
        pick = eligible[0]
        reason = f"{pick.model} is the first available model of the {pool.name} tier"
        skipped = [f"{r.model} ({FILTER_WORDS[r.filtered or '']})" for r in rows[: pick.index]]
        if skipped:
            reason += f"; skipped {', '.join(skipped)}"
        return decision(pick, rows, reason)
    if pool.rule != CHEAPEST_ADEQUATE:
        raise PoolError(
            f"{pool.name}: unknown rule {pool.rule!r} (use {ORDERED} or {CHEAPEST_ADEQUATE})"
        )

    pick, reason = _cheapest_adequate(eligible, ctx)
    chosen, sticky = pick, False
    incumbent = _incumbent(rows, constraints.current_model)
    if incumbent is not None and incumbent is not pick:
        if incumbent.adequate:
            if _switch_pays(incumbent, pick, pool.switch_factor):
                reason += (
                    f"; switched from {incumbent.model}: {format_usd(incumbent.cost)} is more than "
                    f"{pool.switch_factor:g}x {format_usd(pick.cost)}"
                )
            else:
                chosen, sticky = incumbent, True
                reason = _sticky_reason(incumbent, pick, ctx, pool.switch_factor)
        else:
            reason += f"; left {incumbent.model}: {incumbent.reason}"

    unsure = classification.task_margin < pool.min_margin
    if not (unsure or chosen.skill is None):
        return decision(chosen, rows, reason, sticky=sticky)

    # never below balanced: the classifier is unsure, or the cell has no figure for the pick
    why = (
        f"the classifier is unsure of the task (margin {classification.task_margin:.2f} < "
        f"{pool.min_margin:.2f})"
        if unsure
        else f"{chosen.model} has no skill figure for {ctx.cell}"
    )
    fallback = _fallback_row(pool, rows, catalogue, ctx)
    if fallback is None:
        notes.append(f"{why}, but no fallback model of the {pool.name} tier is available")
        return decision(chosen, rows, reason, sticky=sticky)
    if (
        unsure
        and incumbent is not None
        and incumbent.adequate
        and incumbent is not fallback
        and incumbent.skill is not None
        and fallback.skill is not None
        and incumbent.skill >= fallback.skill
    ):
        reason = (
            f"{why}, so keeping the session's model {incumbent.model}, "
            f"at least as skilled as the fallback {fallback.model}"
        )
        return decision(incumbent, rows, reason, sticky=True)
    reason = f"{why}, so using the {pool.name} tier's fallback {fallback.model} rather than guess"
    return decision(fallback, rows, reason, fallback_used=True)


def _with_floor(pool: TierPool, catalogue: Catalogue, ctx: RouteContext) -> RouteContext:
    """Never below balanced: the tier's fallback model (the balanced model the user's providers
    reach) sets the least skill a candidate may have for the cell, less the tier's tolerance. So a
    cheaper model is chosen only where its figures say it does about as well as balanced."""
    reference = _fallback_row(pool, [], catalogue, ctx)
    if reference is None or reference.skill is None or pool.floor_tolerance is None:
        return ctx
    return replace(ctx, floor=reference.skill - pool.floor_tolerance, floor_model=reference.model)


def _lookup(pool: TierPool, table: dict[str, Any], key: str, name: str) -> Any:
    try:
        return table[key]
    except KeyError:
        where = pool.source or pool.name
        raise PoolError(f"{where}: {name}.{key} is missing") from None


def _cheapest_adequate(eligible: list[Row], ctx: RouteContext) -> tuple[Row, str]:
    adequate = [r for r in eligible if r.meets_bar]
    if adequate:
        # unpriced models cannot be shown to be cheaper: they come after every priced one
        pick = min(
            adequate, key=lambda r: (r.cost is None, r.cost or 0.0, -(r.skill or 0.0), r.index)
        )
        if pick.cost is None:
            return pick, (
                f"{pick.model} meets the bar {ctx.bar:.2f} for {ctx.cell}; no adequate model has "
                f"a known price, so the most skilled of them"
            )
        return pick, (
            f"{pick.model} is the cheapest model that meets the bar {ctx.bar:.2f} for {ctx.cell} "
            f"(skill {pick.skill:.2f}, est. {format_usd(pick.cost)})"
        )
    pick = max(eligible, key=lambda r: (r.skill is not None, r.skill or 0.0, -r.index))
    skill = "no figure" if pick.skill is None else f"{pick.skill:.2f}"
    return pick, (
        f"no model meets the bar {ctx.bar:.2f} for {ctx.cell}; "
        f"using the most skilled: {pick.model} ({skill})"
    )


def _incumbent(rows: list[Row], current: str | None) -> Row | None:
    if current is None:
        return None
    return next((r for r in rows if r.model == current), None)


def _switch_pays(incumbent: Row, pick: Row, factor: float) -> bool:
    """Switch only when the new pick is provably cheaper by more than the factor."""
    if incumbent.cost is None or pick.cost is None:
        return False
    return incumbent.cost > factor * pick.cost


def _sticky_reason(incumbent: Row, pick: Row, ctx: RouteContext, factor: float) -> str:
    head = (
        f"kept the session's model {incumbent.model}: it meets the bar {ctx.bar:.2f} for {ctx.cell}"
    )
    if incumbent.cost is None or pick.cost is None:
        return f"{head} and {pick.model} cannot be shown to be cheaper (unpriced)"
    return (
        f"{head} and {pick.model} is not more than {factor:g}x cheaper "
        f"({format_usd(pick.cost)} vs {format_usd(incumbent.cost)} with the cached prompt)"
    )


def _fallback_row(
    pool: TierPool, rows: list[Row], catalogue: Catalogue, ctx: RouteContext
) -> Row | None:
    """The first model of the fallback chain that passes the filters; rows for fallbacks outside
    the pool are appended to `rows` so that --explain shows them."""
    chain = getattr(pool, "fallback_chain", ()) or (pool.fallback,)
    by_id = {r.model: r for r in rows}
    for model_id in chain:
        row = by_id.get(model_id)
        if row is None:
            row = evaluate(model_id, len(rows), catalogue, ctx)
            rows.append(row)
            by_id[model_id] = row
        if row.eligible:
            return row
    return None


def _pinned_row(pin: str, catalogue: Catalogue, ctx: RouteContext, notes: list[str]) -> Row:
    model_id = resolve_model_id(pin, catalogue)
    row = evaluate(model_id, 0, catalogue, ctx)
    if row.filtered in ("over_cap", "unpriced_cap") and not ctx.constraints.force:
        raise OverCap(f"pinned model {model_id}: {row.reason}; pass --force to call it anyway")
    if not row.eligible:
        notes.append(f"pinned model {model_id}: {row.reason}; using it anyway because it is pinned")
        if row.filtered == "unreachable":
            row.provider = None
    return row


def _frontier(
    frontier: TierPool | None, catalogue: Catalogue, ctx: RouteContext
) -> tuple[str | None, float | None]:
    """What the frontier tier would pick for the same request and reachability (rule ordered,
    no cost cap: it is the yardstick for what routing saved)."""
    if frontier is None:
        return None, None
    fctx = RouteContext(
        ctx.task,
        ctx.difficulty,
        ctx.bar,
        ctx.input_tokens,
        ctx.output_tokens,  # the same request: same expected answer length
        ctx.constraints,
        apply_cap=False,
    )
    for i, model_id in enumerate(frontier.models):
        row = evaluate(model_id, i, catalogue, fctx)
        if row.eligible:
            return row.model, row.cost
    return None, None
