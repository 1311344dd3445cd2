"""`kilo sessions`: list, show, export and delete stored transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kilocli import output
from kilocli.completion import complete_session_ids
from kilocli.config import atomic_write
from kilocli.errors import UsageError
from kilocli.routing.cost import format_usd
from kilocli.terminal_text import terminal_safe
from kilocli.ui.tables import emit_json, local_time, print_table, table, usd_with_unpriced

if TYPE_CHECKING:
    from kilocli.store import SessionRecord, Store, TurnRecord

app = typer.Typer(
    help="Transcripts: list, show, search, export, rm. IDs accept 'last' and unique prefixes.",
    no_args_is_help=True,
)


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="sessions", help="Transcripts: list, show, search, export, rm.")


IdArg = Annotated[
    str,
    typer.Argument(
        help="Session id, a unique prefix of it, or 'last'.",
        autocompletion=complete_session_ids,
    ),
]
TITLE_WIDTH = 40


def _store() -> Store:
    from kilocli.app import App

    return App.load().store()


def _one_line(text: str, width: int) -> str:
    flat = " ".join(terminal_safe(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many sessions.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Sessions as a JSON array.")] = False,
) -> None:
    """Recent sessions, most recently used first.

    Examples:

      kilo sessions list

      kilo sessions list -n 5 --json
    """
    from rich.text import Text

    with _store() as store:
        sessions = store.list_sessions(limit)
    if as_json:
        emit_json(
            [
                {
                    "id": s.id,
                    "kind": s.kind,
                    "tier": s.tier,
                    "title": s.title,
                    "created_at": s.created_at.isoformat(),
                    "updated_at": s.updated_at.isoformat(),
                    "turns": s.turns,
                    "cost_usd": s.cost_usd,
                    "unpriced_turns": s.unpriced_turns,
                    "models": s.models,
                }
                for s in sessions
            ]
        )
        return
    if not sessions:
        output.note("no sessions yet (kilo chat or kilo ask starts one)")
        return
    rows = table()
    rows.add_column("id", no_wrap=True)
    rows.add_column("kind", no_wrap=True)
    rows.add_column("last used", no_wrap=True)
    rows.add_column("turns", justify="right", no_wrap=True)
    rows.add_column("cost", justify="right", no_wrap=True)
    rows.add_column("title")  # the one column that gives way when the terminal is narrow
    for s in sessions:
        rows.add_row(
            s.id,
            s.kind,
            local_time(s.updated_at),
            str(s.turns),
            usd_with_unpriced(s.cost_usd, s.unpriced_turns),
            Text(_one_line(s.title or "", TITLE_WIDTH), no_wrap=True, overflow="ellipsis"),
        )
    print_table(rows)


def _turn_meta(turn: TurnRecord) -> str:
    """model via provider · task/difficulty · cost · time · status (whatever is known)."""
    parts = []
    if turn.model:
        parts.append(turn.model + (f" via {turn.provider}" if turn.provider else ""))
    if turn.task:
        parts.append(f"{turn.task}/{turn.difficulty or '?'}")
    if turn.status != "streaming":
        cost = format_usd(turn.cost_usd)
        if turn.frontier_cost_usd is not None and turn.cost_usd is not None:
            cost += f" (frontier {format_usd(turn.frontier_cost_usd)})"
        parts.append(cost)
    if turn.latency_ms is not None:
        parts.append(f"{turn.latency_ms / 1000:.1f} s")
    if turn.status == "streaming":
        parts.append("unfinished")
    elif turn.status != "ok":
        parts.append(turn.status + (f": {turn.error}" if turn.error else ""))
    return " · ".join(parts)


def _session_cost(record: SessionRecord) -> str:
    cost = sum(t.cost_usd or 0.0 for t in record.turns)
    unpriced = sum(
        1 for t in record.turns if t.cost_usd is None and t.status in ("ok", "incomplete")
    )
    return usd_with_unpriced(cost, unpriced)


def _session_head(record: SessionRecord) -> str:
    n = len(record.turns)
    return (
        f"session {record.id} · {record.kind} · tier {record.tier} · "
        f"started {local_time(record.created_at)} · {n} turn{'s' if n != 1 else ''} · "
        f"{_session_cost(record)}"
    )


@app.command()
def show(session_id: IdArg) -> None:
    """Print a transcript: each prompt, its answer, the model, what it cost.

    Examples:

      kilo sessions show last

      kilo sessions show 0tp3e
    """
    from rich.text import Text

    with _store() as store:
        record = store.session(session_id)
    out = output.stdout()
    out.print(Text(_session_head(record), style="bold"))
    for turn in record.turns:
        out.print()
        out.print(Text(f"[{turn.seq}] you · {local_time(turn.created_at)}", style="bold cyan"))
        if turn.files:
            out.print(Text("files: " + ", ".join(turn.files), style="dim"))
        out.print(Text(terminal_safe(turn.prompt)))
        out.print()
        out.print(Text(f"[{turn.seq}] {_turn_meta(turn)}", style="bold green"))
        if turn.answer:
            out.print(Text(terminal_safe(turn.answer)))


def to_markdown(record: SessionRecord) -> str:
    lines = [f"# {record.title or 'Session ' + record.id}", ""]
    lines.append(f"- session: `{record.id}` ({record.kind}, tier {record.tier})")
    lines.append(f"- started: {local_time(record.created_at)}")
    lines.append(f"- turns: {len(record.turns)}")
    lines.append(f"- cost: {_session_cost(record)}")
    for turn in record.turns:
        lines += ["", f"## Turn {turn.seq}", "", f"**You** ({local_time(turn.created_at)}):", ""]
        if turn.files:
            lines += ["Files: " + ", ".join(f"`{f}`" for f in turn.files), ""]
        lines += [turn.prompt.rstrip(), "", f"**{_turn_meta(turn)}**:", ""]
        lines.append(turn.answer.rstrip() if turn.answer else "_(no answer)_")
    return "\n".join(lines) + "\n"


@app.command()
def export(
    session_id: IdArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
    out_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export a transcript as Markdown or JSON (everything stored, decisions and usage included).

    Examples:

      kilo sessions export last > session.md

      kilo sessions export 0tp3e --format json -o session.json
    """
    if fmt not in ("md", "json"):
        raise UsageError(f"--format: expected md or json, got {fmt!r}")
    with _store() as store:
        record = store.session(session_id)
    if fmt == "json":
        text = json.dumps(record.to_json(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = to_markdown(record)
    if out_file is None:
        output.write_answer(text)
        return
    try:
        atomic_write(out_file, text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"--output: cannot write {out_file}: {exc.strerror}") from None
    output.note(f"wrote session {record.id} to {out_file}")


@app.command()
def rm(session_id: IdArg) -> None:
    """Delete a session and all its turns.

    Example:

      kilo sessions rm 0tp3e
    """
    with _store() as store:
        deleted = store.delete_session(session_id)
    output.note(f"deleted session {deleted}")


@app.command()
def search(
    query: Annotated[
        list[str], typer.Argument(help="Words to find (all of them); 'migrat*' is a prefix.")
    ],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many turns.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="The hits as a JSON array.")] = False,
    fts: Annotated[
        bool,
        typer.Option("--fts", help='QUERY is SQLite FTS5 syntax (OR, NOT, NEAR, "phrases").'),
    ] = False,
) -> None:
    """Full-text search over every stored prompt and answer, best match first.

    Words are matched whole after stemming (migrate finds migration), all of them must occur,
    and a word ending in * matches as a prefix.

    Examples:

      kilo sessions search postgres migration

      kilo sessions search "retry*" --json -n 5

      kilo sessions search --fts 'sqlite NOT postgres'
    """
    from kilocli.search_query import fts_query
    from kilocli.search_view import hit_json, hits_table

    text = " ".join(query)
    with _store() as store:
        hits = store.search(fts_query(text, raw=fts), limit=limit)
    if as_json:
        emit_json([hit_json(h) for h in hits])
        return
    if not hits:
        output.note(f"no stored turn matches {text!r}")
        return
    print_table(hits_table(hits, plain=output.is_plain(output.stdout())))
