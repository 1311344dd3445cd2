"""Reading piped stdin without ever hanging on an idle pipe (openai/codex#20919)."""

from __future__ import annotations

import os
import select
import stat
import sys
from typing import BinaryIO

from kilocli.errors import UsageError

# How long to wait for the first byte of a pipe before assuming nobody will write to it.
DEFAULT_FIRST_BYTE_TIMEOUT = 2.0
MAX_PROMPT_BYTES = 512 * 1024


def first_byte_timeout() -> float:
    raw = os.environ.get("KILOCLI_STDIN_TIMEOUT")
    if not raw:
        return DEFAULT_FIRST_BYTE_TIMEOUT
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise UsageError(f"KILOCLI_STDIN_TIMEOUT: not a number of seconds: {raw!r}") from None


def read_piped_stdin(
    stream: BinaryIO | None = None, *, timeout: float | None = None, required: bool = False
) -> str | None:
    """Return piped stdin as text, or None when stdin is a terminal or an idle pipe.

    A regular file or a pipe that delivers data is read to the end. A pipe that stays silent for
    ``timeout`` seconds is left alone (an inherited pipe with no writer must not hang us), unless
    ``required`` (the user passed ``-``), in which case we wait for EOF.
    """
    stream = stream if stream is not None else sys.stdin.buffer
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        fd = None
    if fd is not None and os.isatty(fd):
        if required:
            raise UsageError("'-' means the prompt is stdin, but stdin is a terminal: pipe text in")
        return None
    if fd is not None and not required:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            wait = first_byte_timeout() if timeout is None else timeout
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                from kilocli.output import note

                note(
                    f"stdin: nothing arrived within {wait:g} s, so it is ignored "
                    "(KILOCLI_STDIN_TIMEOUT waits longer; '-' waits for it; --no-stdin skips it)"
                )
                return None
    data = stream.read(MAX_PROMPT_BYTES + 1)
    if data is None:
        return None
    if len(data) > MAX_PROMPT_BYTES:
        raise UsageError(f"stdin: more than {MAX_PROMPT_BYTES // 1024} KiB; pass a smaller input")
    return decode_text(data, "stdin")


def decode_text(data: bytes, origin: str) -> str:
    """UTF-8 text or a one-line error naming where the bytes came from."""
    if b"\x00" in data:
        raise UsageError(f"{origin}: binary data (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{origin}: not UTF-8 text (bad byte at offset {exc.start})") from None


def check_prompt_size(text: str, origin: str) -> str:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PROMPT_BYTES:
        raise UsageError(f"{origin}: prompt is over {MAX_PROMPT_BYTES // 1024} KiB; shorten it")
    return text
