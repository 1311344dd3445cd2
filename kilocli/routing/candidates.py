"""One model of a pool judged for one turn: its skill against the bar, its cost estimate, the filter
that removed it (deprecated, excluded, unreachable, context, cost cap) and the reason shown for it
in ``--explain``. Pure, like route().
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from kilocli.errors import UsageError
from kilocli.routing.cost import estimate_cost, format_usd, resolve_price
from kilocli.routing.decision import Candidate, Constraints
from kilocli.routing.pools import Catalogue, ModelSpec, TierPool


@dataclass
class Row:
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
class RouteContext:
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


def evaluate(model_id: str, index: int, catalogue: Catalogue, ctx: RouteContext) -> Row:
    c = ctx.constraints
    spec = catalogue.models.get(model_id)
    provider = c.reachable.get(model_id) if c.reachable is not None else None
    if spec is None:
        return Row(
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
    row = Row(
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


# filter kind -> a word or two for one-line summaries
FILTER_WORDS = {
    "deprecated": "deprecated",
    "excluded": "excluded",
    "unreachable": "unreachable",
    "context": "context too small",
    "unpriced_cap": "unpriced under --max-cost",
    "over_cap": "over --max-cost",
    "unknown": "not in the catalogue",
    "": "",
}


def resolve_model_id(name: str, catalogue: Catalogue) -> str:
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


def nothing_fits(pool: TierPool, rows: list[Row], ctx: RouteContext) -> str:
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
