"""How the data commands (auth, config, sessions, stats, examples) print: times, bars and
plain-or-Rich tables, so every command's output looks the same and tests can assert it exactly.
Money has one formatter for every command and the chat: routing/cost.format_usd.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kilocli import output
from kilocli.routing.cost import format_usd

if TYPE_CHECKING:  # rich loads when a table is drawn, not when a command module is imported
    from rich.console import RenderableType
    from rich.table import Table

BLOCKS = " ▏▎▍▌▋▊▉█"  # eighths, for bars with sub-character resolution


def usd_with_unpriced(value: float, unpriced_turns: int) -> str:
    """A known sum, flagged when some turns had no price (never an unknown shown as $0)."""
    if not unpriced_turns:
        return format_usd(value)
    if value == 0:
        return "unpriced"
    return f"{format_usd(value)}+"


def local_time(dt: datetime) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M")


def bar(value: float, largest: float, width: int = 20) -> str:
    """A horizontal bar of ``value / largest`` of ``width`` cells, in eighths of a cell."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(min(value / largest, 1.0) * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (BLOCKS[rest] if rest else "")


def table(title: str | None = None) -> Table:
    """Box-drawn on a terminal; bare aligned columns when piped (easy to grep and cut)."""
    from rich import box
    from rich.table import Table

    plain = output.is_plain(output.stdout())
    return Table(
        title=title,
        title_justify="left",
        title_style="bold" if not plain else "",
        box=None if plain else box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        header_style="bold" if not plain else "",
    )


def print_table(rendered: RenderableType) -> None:
    """Print to stdout; when piped, without the padding Rich leaves at the end of each line."""
    console = output.stdout()
    if not output.is_plain(console):
        console.print(rendered)
        return
    with console.capture() as captured:
        console.print(rendered)
    output.write_answer("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def emit_json(data: Any) -> None:
    output.write_answer(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
