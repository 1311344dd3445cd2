"""Rich renderings of routing: `kilo route --explain`, the `kilo models` table."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from kilocli.routing.cost import format_usd
from kilocli.routing.pools import Catalogue, TierPool
from kilocli.routing.router import Decision
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

BAR_WIDTH = 20


def _bar(p: float, width: int = BAR_WIDTH) -> str:
    full = round(max(0.0, min(1.0, p)) * width)
    return "█" * full + "·" * (width - full)


def _probs_table(title: str, probs: dict[str, float], chosen: str, order: Iterable[str]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column("bucket")
    table.add_column("p", justify="right")
    table.add_column("bar")
    for name in sorted(order, key=lambda n: -probs.get(n, 0.0)):
        p = probs.get(name, 0.0)
        style = "bold green" if name == chosen else ""
        table.add_row(Text(name, style=style), f"{p:.2f}", Text(_bar(p), style=style or "dim"))
    return table


def explain(decision: Decision) -> RenderableType:
    """Everything `kilo route --explain` shows: buckets, margin, candidates, choice, frontier."""
    head = Table.grid(padding=(0, 4))
    head.add_row(
        _probs_table("task", decision.task_probs, decision.task, TASKS),
        _probs_table("difficulty", decision.difficulty_probs, decision.difficulty, DIFFICULTIES),
    )
    margins = Text(
        f"task margin {decision.margin:.2f} · difficulty margin {decision.difficulty_margin:.2f} · "
        f"input ≈ {decision.input_tokens:,} tokens · expected output ≈ "
        f"{decision.expected_output_tokens:,} tokens",
        style="dim",
    )
    bar = "" if decision.bar is None else f" · bar {decision.bar:.2f}"
    cands = Table(
        title=f"candidates · tier {decision.tier}{bar} for {decision.task}/{decision.difficulty}",
        title_justify="left",
    )
    cands.add_column("model", no_wrap=True)
    cands.add_column("via", no_wrap=True)
    cands.add_column("skill", justify="right")
    cands.add_column("est. cost", justify="right", no_wrap=True)
    cands.add_column("verdict", overflow="fold")
    # usable candidates first, cheapest first: the choice reads from the top
    ordered = sorted(
        decision.candidates,
        key=lambda c: (not c.eligible, c.estimated_cost_usd is None, c.estimated_cost_usd or 0.0),
    )
    for c in ordered:
        chosen = c.model == decision.model
        mark = "→ " if chosen else "  "
        verdict = "adequate" if c.adequate else (c.reason or "not adequate")
        cands.add_row(
            Text(mark + c.model, style="bold green" if chosen else ""),
            c.provider or "-",
            "-" if c.skill is None else f"{c.skill:.2f}",
            format_usd(c.estimated_cost_usd),
            Text(verdict, style="green" if c.adequate else "dim"),
        )
    choice = Text.assemble(
        ("choice: ", "bold"),
        (decision.model, "bold green"),
        (f" via {decision.provider}" if decision.provider else "", ""),
        (f" · est. {format_usd(decision.estimated_cost_usd)}", ""),
    )
    lines: list[RenderableType] = [head, margins, cands, choice, Text(decision.reason)]
    if decision.frontier_model:
        saving = ""
        if decision.frontier_cost_usd and decision.estimated_cost_usd is not None:
            ratio = decision.frontier_cost_usd / max(decision.estimated_cost_usd, 1e-12)
            saving = f" ({ratio:,.1f}× the routed estimate)" if ratio > 1.0 else ""
        lines.append(
            Text(
                f"frontier tier would use {decision.frontier_model}: "
                f"{format_usd(decision.frontier_cost_usd)}{saving}",
                style="dim",
            )
        )
    for note in decision.notes:
        lines.append(Text(f"note: {note}", style="yellow"))
    return Group(*lines)


def models_table(
    catalogue: Catalogue,
    reachable: dict[str, str] | None,
    tiers: dict[str, TierPool],
    *,
    show_skills: bool = True,
) -> Table:
    """The pool as `kilo models` shows it: prices, context, per-task skill, tiers, reachability."""
    table = Table(title="model catalogue (prices USD per 1M tokens; skill = hard-cell figure)")
    table.add_column("model")
    table.add_column("in", justify="right")
    table.add_column("out", justify="right")
    table.add_column("cached", justify="right")
    table.add_column("context", justify="right")
    if show_skills:
        for task in TASKS:
            table.add_column(task[:4], justify="right")
    table.add_column("tiers")
    table.add_column("reachable")
    for spec in sorted(
        catalogue.models.values(), key=lambda m: (m.price.input or 0.0, m.price.output or 0.0)
    ):

        def price(v: float | None) -> str:
            return "unpriced" if v is None else f"{v:g}"

        row = [
            spec.id,
            price(spec.price.input),
            price(spec.price.output),
            price(
                spec.price.cached_input if spec.price.cached_input is not None else spec.price.input
            ),
            f"{spec.context_window // 1000}k",
        ]
        if show_skills:
            for task in TASKS:
                skill = spec.skills.get((task, "hard"))
                row.append("-" if skill is None else f"{skill.value:.2f}")
        row.append(",".join(name for name, pool in tiers.items() if spec.id in pool.models))
        if reachable is None:
            row.append("no provider")
        else:
            row.append(reachable.get(spec.id, "-"))
        table.add_row(*row)
    return table


def print_explain(decision: Decision, console: Console) -> None:
    console.print(explain(decision))
