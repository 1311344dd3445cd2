"""How search hits look: a table on a terminal (sessions search, /sessions QUERY) and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table
from rich.text import Text

from kilocli.search_query import split_highlights
from kilocli.terminal_text import terminal_safe

if TYPE_CHECKING:
    from kilocli.store import SearchHit


def snippet_text(snippet: str, style: str = "bold yellow") -> Text:
    """One line: stored text made terminal-safe piece by piece, the matches highlighted."""
    plain, spans = split_highlights(snippet)
    out = Text(no_wrap=False)
    cursor = 0
    for start, end in [*spans, (len(plain), len(plain))]:
        out.append(_flat(plain[cursor:start]))
        if end > start:
            out.append(_flat(plain[start:end]), style=style)
        cursor = end
    return out


def _flat(text: str) -> str:
    # newlines and tabs would break the one-line row; every other control character is shown
    return terminal_safe(text.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))


def hits_table(
    hits: Sequence[SearchHit], *, title: str | None = None, plain: bool = False
) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        box=None if plain else box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="" if plain else "bold",
    )
    table.add_column("session", no_wrap=True)
    table.add_column("turn", justify="right", no_wrap=True)
    table.add_column("when", no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("match")  # the column that gives way on a narrow terminal
    for hit in hits:
        table.add_row(
            hit.session_id,
            str(hit.seq),
            hit.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            terminal_safe(hit.model or "-"),
            snippet_text(hit.snippet, style="" if plain else "bold yellow"),
        )
    return table


def hit_json(hit: SearchHit) -> dict[str, Any]:
    text, spans = split_highlights(hit.snippet)
    return {
        "session_id": hit.session_id,
        "turn_id": hit.turn_id,
        "seq": hit.seq,
        "kind": hit.kind,
        "title": hit.title,
        "created_at": hit.created_at.isoformat(),
        "model": hit.model,
        "task": hit.task,
        "difficulty": hit.difficulty,
        "status": hit.status,
        "snippet": text,
        "highlights": [list(span) for span in spans],  # [start, end) offsets into snippet
        "score": round(hit.score, 6),
    }
