"""The only place that writes to the terminal: one Console for answers (stdout), one for the rest.

Rich on a terminal; plain text when the stream is not a TTY or NO_COLOR is set.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

from kilocli.terminal_text import terminal_safe

if TYPE_CHECKING:  # rich loads on the first print, not on import: `kilo route` may need none
    from rich.console import Console


def _plain(stream: TextIO) -> bool:
    return not stream.isatty() or "NO_COLOR" in os.environ


def _console(stream: TextIO) -> Console:
    from rich.console import Console

    plain = _plain(stream)
    return Console(
        file=stream,
        color_system=None if plain else "auto",
        force_terminal=False if plain else None,
        highlight=False,
        soft_wrap=plain,
        emoji=False,
    )


_consoles: dict[int, tuple[TextIO, Console]] = {}


def _for(stream: TextIO) -> Console:
    """One Console per stream object, so a swapped sys.stdout (tests, redirection) gets its own."""
    hit = _consoles.get(id(stream))
    if hit is None or hit[0] is not stream:
        hit = (stream, _console(stream))
        _consoles[id(stream)] = hit
    return hit[1]


def stdout() -> Console:
    return _for(sys.stdout)


def stderr() -> Console:
    return _for(sys.stderr)


def is_plain(console: Console) -> bool:
    return not console.is_terminal or console.color_system is None


def write_answer(text: str) -> None:
    """Answer text to stdout: unmodified into a pipe or file (pipelines get exactly what the model
    said), with control characters made visible on a terminal (no escape sequence reaches it)."""
    sys.stdout.write(terminal_safe(text) if sys.stdout.isatty() else text)
    sys.stdout.flush()


def write_line(text: str) -> None:
    """One line of our own text to stdout, as ``stdout().print(text, markup=False)`` prints it;
    without loading Rich when stdout is plain and the text needs no care (printable only)."""
    if not sys.stdout.isatty() and text.isprintable():
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    stdout().print(text, markup=False)


def warn(message: str) -> None:
    con = stderr()
    con.print("[yellow]warning:[/yellow] ", end="", markup=True)
    con.print(terminal_safe(message), markup=False, highlight=False)


def error(message: str) -> None:
    # markup off for the message itself: provider text may contain brackets
    con = stderr()
    con.print("[bold red]error:[/bold red] ", end="", markup=True)
    con.print(terminal_safe(message), markup=False, highlight=False)


def note(message: str) -> None:
    stderr().print(terminal_safe(message), markup=False, highlight=False, style="dim")
