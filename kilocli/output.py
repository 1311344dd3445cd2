"""The only place that writes to the terminal: one stdout Console for answers, one stderr Console for the rest.

Rich on a terminal; plain text when the stream is not a TTY or NO_COLOR is set.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import TextIO

from rich.console import Console


def _console(stream: TextIO) -> Console:
    plain = not stream.isatty() or "NO_COLOR" in os.environ
    return Console(
        file=stream,
        color_system=None if plain else "auto",
        force_terminal=False if plain else None,
        highlight=False,
        soft_wrap=plain,
        emoji=False,
    )


@cache
def stdout() -> Console:
    return _console(sys.stdout)


@cache
def stderr() -> Console:
    return _console(sys.stderr)


def is_plain(console: Console) -> bool:
    return not console.is_terminal or console.color_system is None


def write_answer(text: str) -> None:
    """Raw answer text to stdout, unmodified (pipelines get exactly what the model said)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def warn(message: str) -> None:
    stderr().print(f"[yellow]warning:[/yellow] {message}", markup=True, highlight=False)


def error(message: str) -> None:
    # markup off for the message itself: provider text may contain brackets
    con = stderr()
    con.print("[bold red]error:[/bold red] ", end="", markup=True)
    con.print(message, markup=False, highlight=False)


def note(message: str) -> None:
    stderr().print(message, markup=False, highlight=False, style="dim")
