"""`kilo examples`: the user's corrections, which route as personal examples: list, rm, export."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kilocli import output
from kilocli.app import App
from kilocli.config import atomic_write
from kilocli.errors import UsageError
from kilocli.terminal_text import terminal_safe
from kilocli.ui.tables import emit_json, local_time, print_table, table

if TYPE_CHECKING:
    from kilocli.store import CorrectionRecord

app = typer.Typer(
    help="Your corrections (kilo route --teach, /wrong, /retry --up, kilo ask --up), which route "
    "as personal examples: list, rm, export.",
    no_args_is_help=True,
)


def register(cli: typer.Typer) -> None:
    cli.add_typer(
        app, name="examples", help="Your corrections as routing examples: list, rm, export."
    )


PROMPT_WIDTH = 60


def _corrections() -> list[CorrectionRecord]:
    kilo = App.load()
    if not kilo.paths.database.exists():
        return []
    with kilo.store() as store:
        return store.corrections()


def _in_use(records: list[CorrectionRecord]) -> dict[int, float]:
    """Correction id -> recency weight, for those routing uses (the newest, one per prompt)."""
    from kilocli.routing.personal import select

    rows = ((c.id, c.prompt, c.task, c.difficulty, c.created_at) for c in records)
    return {e.id: e.weight for e in select(rows, datetime.now(UTC))}


def _one_line(text: str, width: int = PROMPT_WIDTH) -> str:
    flat = " ".join(terminal_safe(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _record_json(c: CorrectionRecord, weight: float | None) -> dict[str, Any]:
    data = c.to_json()
    data["used"] = weight is not None
    data["weight"] = None if weight is None else round(weight, 4)
    return data


@app.command("list")
def list_(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many, newest first.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array.")] = False,
) -> None:
    """Your corrections, newest first: the label you gave, what the router had said, the prompt.

    Examples:

      kilo examples list

      kilo examples list --json | jq '.[] | select(.task == "edit")'
    """
    records = _corrections()
    used = _in_use(records)
    shown = records[:limit]
    if as_json:
        emit_json([_record_json(c, used.get(c.id)) for c in shown])
        return
    if not records:
        output.note(
            "no corrections yet: kilo route --teach TASK/DIFFICULTY PROMPT, or /wrong in kilo chat"
        )
        return
    t = table()
    for name in ("id", "recorded", "source", "label", "was", "weight"):
        t.add_column(name, justify="right" if name in ("id", "weight") else "left", no_wrap=True)
    t.add_column("prompt", no_wrap=True, overflow="ellipsis")  # the column that gives way
    for c in shown:
        was = f"{c.routed_task}/{c.routed_difficulty}" if c.routed_task else "-"
        weight = used.get(c.id)
        t.add_row(
            str(c.id),
            local_time(c.created_at),
            c.source,
            f"{c.task}/{c.difficulty}",
            was,
            "unused" if weight is None else f"{weight:.2f}",
            _one_line(c.prompt),
        )
    print_table(t)
    if len(records) > limit:
        output.note(f"{len(records) - limit} older not shown (--limit)")


@app.command("rm")
def rm(
    ids: Annotated[list[int], typer.Argument(help="Correction ids (kilo examples list).")],
) -> None:
    """Delete corrections: routing stops using them at once.

    Examples:

      kilo examples rm 12

      kilo examples rm 12 13 14
    """
    kilo = App.load()
    if not kilo.paths.database.exists():
        raise UsageError(f"no correction #{ids[0]} (kilo examples list)")
    with kilo.store() as store:
        missing = [i for i in ids if not store.delete_correction(i)]
    for i in ids:
        if i not in missing:
            output.stderr().print(f"deleted #{i}", markup=False)
    if missing:
        raise UsageError(
            f"no correction {', '.join(f'#{i}' for i in missing)} (kilo examples list)"
        )


@app.command("export")
def export(
    out: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Every correction as JSON lines (id, prompt, task, difficulty, created_at, source, ...).

    Examples:

      kilo examples export > corrections.jsonl

      kilo examples export -o corrections.jsonl
    """
    records = _corrections()
    used = _in_use(records)
    text = "".join(
        json.dumps(_record_json(c, used.get(c.id)), ensure_ascii=False) + "\n" for c in records
    )
    if out is None:
        output.write_answer(text)  # verbatim into a pipe; control characters shown on a terminal
        return
    try:
        atomic_write(out, text.encode("utf-8"), mode=0o600)  # prompts: private
    except OSError as exc:
        raise UsageError(f"--output: cannot write {out}: {exc.strerror}") from None
    output.stderr().print(f"wrote {len(records)} corrections to {out}", markup=False)
