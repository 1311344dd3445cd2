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

import difflib
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from kilocli.errors import PoolError, UsageError
from kilocli.routing.cost import estimate_cost, format_usd, resolve_price
from kilocli.routing.pools import Catalogue, ModelSpec, TierPool
from kilocli.routing.taxonomy import CHEAPEST_ADEQUATE, ORDERED

if TYPE_CHECKING:  # the classifier module imports numpy: not needed to route
    from kilocli.routing.classifier import Classification


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


# -- evaluation of one model ---------------------------------------------------------------------


@dataclass
class _Row:
    """One model under evaluation (mutable working state; becomes a Candidate)."""

    model: str
    index: int  # position in the pool (tie-breaks, "ordered")
    spec: ModelSpec | None
    provider: str | None
    skill: float | None
    basis: str | None
    cost: float | None
    meets_bar: bool
    filtered: str | None  # filter kind that removed it, None = eligible
    reason: str

    @property
    def eligible(self) -> bool:
        return self.filtered is None

    @property
    def adequate(self) -> bool:
        return self.filtered is None and self.meets_bar

    def candidate(self, bar: float) -> Candidate:
        return Candidate(
            model=self.model,
            provider=self.provider,
            skill=self.skill,
            bar=bar,
            adequate=self.adequate,
            estimated_cost_usd=self.cost,
            reason=self.reason,
            eligible=self.eligible,
            skill_basis=self.basis,
        )


@dataclass(frozen=True)
class _Context:
    """What every row is evaluated against."""

    task: str
    difficulty: str
    bar: float
    input_tokens: int
    output_tokens: int
    constraints: Constraints
    apply_cap: bool = True
    # never below balanced: the least skill a candidate may have for the cell (None = no floor)
    floor: float | None = None
    floor_model: str | None = None

    @property
    def cell(self) -> str:
        return f"{self.task}/{self.difficulty}"


def _evaluate(model_id: str, index: int, catalogue: Catalogue, ctx: _Context) -> _Row:
    c = ctx.constraints
    spec = catalogue.models.get(model_id)
    provider = c.reachable.get(model_id) if c.reachable is not None else None
    if spec is None:
        return _Row(
            model=model_id,
            index=index,
            spec=None,
            provider=provider,
            skill=None,
            basis=None,
            cost=None,
            meets_bar=False,
            filtered="unknown",
            reason="not in the model catalogue",
        )
    skill = spec.skills.get((ctx.task, ctx.difficulty))
    incumbent = model_id == c.current_model
    cached = min(c.cached_input_tokens, ctx.input_tokens) if incumbent else 0
    price = resolve_price(spec, ctx.input_tokens, provider)
    cost = estimate_cost(price, ctx.input_tokens, ctx.output_tokens, cached)
    below_floor = skill is not None and ctx.floor is not None and skill.value < ctx.floor
    meets = skill is not None and skill.value >= ctx.bar and not below_floor
    row = _Row(
        model=model_id,
        index=index,
        spec=spec,
        provider=provider,
        skill=None if skill is None else skill.value,
        basis=None if skill is None else skill.basis,
        cost=cost,
        meets_bar=meets,
        filtered=None,
        reason="",
    )
    needed = ctx.input_tokens + ctx.output_tokens
    cap = c.max_cost_usd if ctx.apply_cap else None
    if spec.status == "deprecated":
        row.filtered, row.reason = "deprecated", "deprecated"
    elif model_id in c.exclude:
        row.filtered, row.reason = "excluded", "excluded by you"
    elif c.reachable is not None and provider is None:
        row.filtered = "unreachable"
        row.reason = "unreachable: no configured provider serves it"
        if spec.provider_ids:
            row.reason = f"unreachable: needs {' or '.join(spec.provider_ids)}"
    elif needed > spec.context_window:
        row.filtered = "context"
        row.reason = f"context {spec.context_window:,} < {needed:,} tokens needed"
    elif cap is not None and cost is None:
        row.filtered = "unpriced_cap"
        row.reason = f"unpriced: cannot prove it fits --max-cost {format_usd(cap)}"
    elif cap is not None and cost is not None and cost > cap:
        row.filtered = "over_cap"
        row.reason = f"estimate {format_usd(cost)} over --max-cost {format_usd(cap)}"
    elif skill is None:
        row.reason = f"no skill figure for {ctx.cell}"
    elif below_floor:
        row.reason = f"below the balanced floor {ctx.floor:.2f} ({ctx.floor_model} less a margin)"
    else:
        verdict = "meets" if meets else "below"
        row.reason = f"{verdict} the bar {ctx.bar:.2f}"
    if incumbent and row.eligible and cached:
        row.reason += " (session's model: cached prompt)"
    return row


# -- the decision --------------------------------------------------------------------------------


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
    ctx = _Context(task, difficulty, bar, input_tokens, output_tokens, constraints)
    notes: list[str] = []
    if constraints.reachable is None:
        notes.append(
            "no provider is configured: the choice is made over the whole pool; "
            "set a provider key to call it"
        )
    frontier_model, frontier_cost = _frontier(frontier, catalogue, ctx)

    def decision(
        row: _Row,
        candidates: list[_Row],
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
    rows = [_evaluate(m, i, catalogue, ctx) for i, m in enumerate(pool.models)]
    eligible = [r for r in rows if r.eligible]
    if not eligible:
        raise NoCandidate(_nothing_fits(pool, rows, ctx))

    if pool.rule == ORDERED:
        pick = eligible[0]
        reason = f"{pick.model} is the first available model of the {pool.name} tier"
        skipped = [f"{r.model} ({_SHORT[r.filtered or '']})" for r in rows[: pick.index]]
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


# filter kind -> a word or two for one-line summaries
_SHORT = {
    "deprecated": "deprecated",
    "excluded": "excluded",
    "unreachable": "unreachable",
    "context": "context too small",
    "unpriced_cap": "unpriced under --max-cost",
    "over_cap": "over --max-cost",
    "unknown": "not in the catalogue",
    "": "",
}


def _with_floor(pool: TierPool, catalogue: Catalogue, ctx: _Context) -> _Context:
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


def _cheapest_adequate(eligible: list[_Row], ctx: _Context) -> tuple[_Row, str]:
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


def _incumbent(rows: list[_Row], current: str | None) -> _Row | None:
    if current is None:
        return None
    return next((r for r in rows if r.model == current), None)


def _switch_pays(incumbent: _Row, pick: _Row, factor: float) -> bool:
    """Switch only when the new pick is provably cheaper by more than the factor."""
    if incumbent.cost is None or pick.cost is None:
        return False
    return incumbent.cost > factor * pick.cost


def _sticky_reason(incumbent: _Row, pick: _Row, ctx: _Context, factor: float) -> str:
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
    pool: TierPool, rows: list[_Row], catalogue: Catalogue, ctx: _Context
) -> _Row | None:
    """The first model of the fallback chain that passes the filters; rows for fallbacks outside
    the pool are appended to `rows` so that --explain shows them."""
    chain = getattr(pool, "fallback_chain", ()) or (pool.fallback,)
    by_id = {r.model: r for r in rows}
    for model_id in chain:
        row = by_id.get(model_id)
        if row is None:
            row = _evaluate(model_id, len(rows), catalogue, ctx)
            rows.append(row)
            by_id[model_id] = row
        if row.eligible:
            return row
    return None


def _pinned_row(pin: str, catalogue: Catalogue, ctx: _Context, notes: list[str]) -> _Row:
    model_id = _resolve_model_id(pin, catalogue)
    row = _evaluate(model_id, 0, catalogue, ctx)
    if row.filtered in ("over_cap", "unpriced_cap") and not ctx.constraints.force:
        raise OverCap(f"pinned model {model_id}: {row.reason}; pass --force to call it anyway")
    if not row.eligible:
        notes.append(f"pinned model {model_id}: {row.reason}; using it anyway because it is pinned")
        if row.filtered == "unreachable":
            row.provider = None
    return row


def _resolve_model_id(name: str, catalogue: Catalogue) -> str:
    """A catalogue id from our id or a provider's id for it ("anthropic/claude-sonnet-4.5")."""
    if name in catalogue.models:
        return name
    lowered = name.lower()
    for spec in catalogue.models.values():
        if spec.id.lower() == lowered or lowered in (v.lower() for v in spec.provider_ids.values()):
            return spec.id
    known = sorted(catalogue.models)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UsageError(f"unknown model {name!r}: {hint}`kilo models` lists the known ones")


def _nothing_fits(pool: TierPool, rows: list[_Row], ctx: _Context) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.filtered or ""] = counts.get(r.filtered or "", 0) + 1
    cap = format_usd(ctx.constraints.max_cost_usd)
    needed = ctx.input_tokens + ctx.output_tokens
    labels = {
        "unreachable": "unreachable",
        "excluded": "excluded",
        "over_cap": f"over --max-cost {cap}",
        "unpriced_cap": f"unpriced (cannot prove they fit --max-cost {cap})",
        "context": f"with a context window under {needed:,} tokens",
        "deprecated": "deprecated",
        "unknown": "not in the catalogue",
    }
    parts = [f"{counts[k]} {label}" for k, label in labels.items() if counts.get(k)]
    if not rows:
        parts = ["the pool lists no models"]
    return f"no model of the {pool.name} tier fits this turn: {', '.join(parts)}"


def _frontier(
    frontier: TierPool | None, catalogue: Catalogue, ctx: _Context
) -> tuple[str | None, float | None]:
    """What the frontier tier would pick for the same request and reachability (rule ordered,
    no cost cap: it is the yardstick for what routing saved)."""
    if frontier is None:
        return None, None
    fctx = _Context(
        ctx.task,
        ctx.difficulty,
        ctx.bar,
        ctx.input_tokens,
        ctx.output_tokens,  # the same request: same expected answer length
        ctx.constraints,
        apply_cap=False,
    )
    for i, model_id in enumerate(frontier.models):
        row = _evaluate(model_id, i, catalogue, fctx)
        if row.eligible:
            return row.model, row.cost
    return None, None
