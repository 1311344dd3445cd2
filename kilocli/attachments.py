"""Files attached to a request: `kilo ask -f` and chat's `/add` read them here, with one cap and
one set of checks, and send them in one block format.

Where the text goes depends on how long it should stay: a file given with `ask -f` belongs to that
one prompt (it is sent and recorded with the user's message, so `kilo ask -c` carries it on);
a file added with `/add` stays in the chat's context for every turn until `/drop`, so it travels
in the system prompt, where the provider's prompt cache keeps it cheap.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 256 * 1024  # per file, for ask -f and /add alike


@dataclass
class AttachmentProblem(Exception):
    """Why a file cannot be attached; each caller words it for its own surface."""

    kind: str  # missing | directory | special | unreadable | too_big | binary | not_utf8
    detail: str = ""  # the FIFO/device kind, the OS error, or the first bad byte's offset


def read_attachment(path: Path) -> str:
    """The text of a regular UTF-8 file of at most MAX_FILE_BYTES. A device (/dev/zero) or a
    FIFO is refused before anything is read: it could be endless or block forever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AttachmentProblem("missing") from None
    except OSError as exc:
        raise AttachmentProblem("unreadable", exc.strerror or type(exc).__name__) from None
    if stat.S_ISDIR(mode):
        raise AttachmentProblem("directory")
    if not stat.S_ISREG(mode):
        raise AttachmentProblem(
            "special", "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # bounded even if the file grows meanwhile
    except OSError as exc:
        raise AttachmentProblem("unreadable", exc.strerror or type(exc).__name__) from None
    if len(data) > MAX_FILE_BYTES:
        raise AttachmentProblem("too_big", f"{MAX_FILE_BYTES // 1024} KiB")
    if b"\x00" in data:
        raise AttachmentProblem("binary")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AttachmentProblem("not_utf8", str(exc.start)) from None


def file_block(name: str, text: str) -> str:
    """One file as the model sees it, in a user message or in the system prompt."""
    return f'<file path="{name}">\n{text.rstrip()}\n</file>'
