"""The non-blank lines of a JSONL file, for the bench scripts, with one-line errors.

Lines end at "\\n" only: str.splitlines() would also split inside a JSON string that holds an
unescaped U+2028, form feed or the like, which JSON allows and real prompts contain.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from kilocli.errors import KiloError, UsageError


def jsonl_lines(path: Path, flag: str = "") -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line; ``flag`` names the option that gave the path."""
    named = f"{flag} {path}" if flag else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{named}: file not found") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a JSONL file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    for lineno, raw in enumerate(text.split("\n"), 1):
        raw = raw.removesuffix("\r")
        if raw.strip():
            yield lineno, raw


def print_report(text: str) -> None:
    """Print a report; a reader that went away (piped into head) is not an error."""
    try:
        print(text)
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit


def report_or_error(script: str, make_report: Callable[[], str]) -> int:
    """Print what ``make_report`` returns (exit status 0), or its KiloError as one line on stderr
    named by ``script`` (exit status 2)."""
    try:
        print_report(make_report())
    except KiloError as exc:
        print(f"{script}: {exc.message}", file=sys.stderr)
        return 2
    return 0
