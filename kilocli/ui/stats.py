"""`kilo stats` as Rich tables: spend by day, model and task, the saving, budgets, what-if."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from kilocli.routing.cost import format_usd
from kilocli.ui.tables import bar, local_time, table, usd_with_unpriced

if TYPE_CHECKING:
    from kilocli.budget import BudgetUse
    from kilocli.store import Stats
    from kilocli.whatif import WhatIf

MAX_DAYS_SHOWN = 31


def _summary(stats: Stats) -> Text:
    since = f"since {local_time(stats.since)}" if stats.since else "all time"
    turns = f"{stats.turns} turn{'s' if stats.turns != 1 else ''}"
    sessions = f"{stats.sessions} session{'s' if stats.sessions != 1 else ''}"
    line = f"{since}: {turns} in {sessions}"
    if stats.served_turns:
        line += f" ({stats.served_turns} served by kilo serve)"
    line += f" · spent {format_usd(stats.cost_usd)}"
    if stats.unpriced_turns:
        line += f" (+{stats.unpriced_turns} unpriced)"
    line += f" · {stats.input_tokens:,} tokens in, {stats.output_tokens:,} out"
    return Text(line, style="bold")


def _by_day(stats: Stats) -> RenderableType:
    days = stats.by_day[-MAX_DAYS_SHOWN:]
    shown = "" if len(days) == len(stats.by_day) else f" (last {MAX_DAYS_SHOWN} days with turns)"
    rows = table(f"Spend by day{shown}")
    for name, justify in (("day", "left"), ("turns", "right"), ("cost", "right"), ("", "left")):
        rows.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    largest = max(d.cost_usd for d in days)
    for d in days:
        cost = usd_with_unpriced(d.cost_usd, d.unpriced_turns)
        rows.add_row(d.key, str(d.turns), cost, Text(bar(d.cost_usd, largest), style="cyan"))
    return rows


def _by_model(stats: Stats) -> RenderableType:
    rows = table("Spend by model")
    columns = (("model", "left"), ("turns", "right"), ("cost", "right"), ("share", "right"))
    for name, justify in (*columns, ("", "left")):
        rows.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    largest = max(m.cost_usd for m in stats.by_model)
    for m in stats.by_model:
        priced = stats.cost_usd > 0 and not (m.unpriced_turns and m.cost_usd == 0)
        share = f"{m.cost_usd / stats.cost_usd:.0%}" if priced else "-"
        rows.add_row(
            m.key,
            str(m.turns),
            usd_with_unpriced(m.cost_usd, m.unpriced_turns),
            share,
            Text(bar(m.cost_usd, largest), style="magenta"),
        )
    return rows


def _by_task(stats: Stats) -> RenderableType:
    from kilocli.routing.taxonomy import DIFFICULTIES

    rows = table("Turns by task")
    rows.add_column("task", no_wrap=True)
    rows.add_column("turns", justify="right")
    for name in DIFFICULTIES:
        rows.add_column(name, justify="right")
    rows.add_column("cost", justify="right", no_wrap=True)
    rows.add_column("", no_wrap=True)
    largest = max(t.turns for t in stats.by_task)
    for t in stats.by_task:
        rows.add_row(
            t.task,
            str(t.turns),
            *(str(t.difficulties.get(d, 0)) for d in DIFFICULTIES),
            usd_with_unpriced(t.cost_usd, t.unpriced_turns),
            Text(bar(t.turns, largest), style="green"),
        )
    return rows


def _saving(stats: Stats) -> RenderableType:
    rows = table("Actual vs frontier")
    for name, justify in (("", "left"), ("cost", "right"), ("", "left")):
        rows.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    largest = max(stats.compared_cost_usd, stats.frontier_cost_usd)
    for label, value, style in (
        ("actual", stats.compared_cost_usd, "green"),
        ("frontier", stats.frontier_cost_usd, "red"),
    ):
        rows.add_row(label, format_usd(value), Text(bar(value, largest), style=style))
    n = stats.compared_turns
    ratio = f"{abs(stats.saving_ratio):.0%} · " if stats.saving_ratio is not None else ""
    rows.add_row(
        "saved" if stats.saving_usd >= 0 else "extra",
        format_usd(abs(stats.saving_usd)),
        f"{ratio}over {n} turn{'s' if n != 1 else ''} priced both ways",
    )
    return rows


def _budgets(budgets: list[BudgetUse], session_id: str | None) -> RenderableType:
    rows = table("Budgets (today and this month: local calendar)")
    columns = (("budget", "left"), ("spent", "right"), ("limit", "right"), ("used", "right"))
    for name, justify in (*columns, ("", "left")):
        rows.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for b in budgets:
        label = b.name + (f" ({session_id}, latest)" if b.name == "session" and session_id else "")
        used = b.spent_usd / b.limit_usd
        style = "red" if used >= 1 else "yellow" if used >= 0.8 else "green"
        rows.add_row(
            label,
            format_usd(b.spent_usd),
            format_usd(b.limit_usd),
            f"{used:.0%}",
            Text(bar(min(b.spent_usd, b.limit_usd), b.limit_usd), style=style),
        )
    return rows


def render(
    stats: Stats, budgets: list[BudgetUse] | None = None, session_id: str | None = None
) -> RenderableType:
    parts: list[RenderableType] = [_summary(stats)]
    if budgets:
        parts += [Text(""), _budgets(budgets, session_id)]
    if stats.turns:
        parts += [Text(""), _by_day(stats), Text(""), _by_model(stats)]
        parts += [Text(""), _by_task(stats), Text("")]
        if stats.compared_turns:
            parts.append(_saving(stats))
        else:
            parts.append(Text("no turn has both an actual and a frontier cost yet"))
    return Group(*parts)


def render_what_if(w: WhatIf) -> RenderableType:
    n = w.turns
    if not n:
        return Text(f"\nwhat if {w.tier}: no stored turn to replay", style="bold")
    rows = table(f"What if these {n} turn{'s' if n != 1 else ''} had been routed under {w.tier}")
    for name, justify in (("", "left"), ("cost", "right"), ("", "left")):
        rows.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    largest = max(w.actual_cost_usd, w.what_if_cost_usd)
    rows.add_row(
        "actual", format_usd(w.actual_cost_usd), Text(bar(w.actual_cost_usd, largest), "green")
    )
    rows.add_row(
        w.tier, format_usd(w.what_if_cost_usd), Text(bar(w.what_if_cost_usd, largest), "red")
    )
    diff = w.difference_usd
    ratio = f"{abs(diff) / w.actual_cost_usd:.0%} " if w.actual_cost_usd > 0 else ""
    rows.add_row(
        "difference",
        ("+" if diff >= 0 else "-") + format_usd(abs(diff)),
        f"{ratio}{'more' if diff >= 0 else 'less'} under {w.tier}",
    )
    notes = [f"{w.changed} of {n} turns would have gone to another model"]
    if w.estimated:
        notes.append(f"{w.estimated} priced from the router's estimates (no usage recorded)")
    if w.skipped:
        notes.append(f"{w.skipped} skipped (no stored classification or no price)")
    models = table(f"{w.tier}'s picks")
    for name, justify in (("model", "left"), ("turns", "right"), ("cost", "right")):
        models.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for m in sorted(w.by_model.values(), key=lambda m: (-m.cost_usd, m.model)):
        models.add_row(m.model, str(m.turns), format_usd(m.cost_usd))
    return Group(Text(""), rows, Text("; ".join(notes), style="dim"), Text(""), models)
