"""Server-sent events framing (the WHATWG rules both wire formats use), nothing provider-specific.

Comment lines (``: OPENROUTER PROCESSING``) are skipped, several ``data:`` lines of one event are
joined with newlines, a blank line ends an event, and an event left unfinished when the stream
ends is dropped (it is the torn end of a cut connection, not a message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEvent:
    event: str  # "message" when the server named none
    data: str


def sse_lines(chunks: Iterable[str]) -> Iterator[str]:
    """Lines of decoded text chunks, split on CRLF, LF or CR only (the SSE rule).

    Not ``str.splitlines`` (nor httpx's ``iter_lines``, built on it): that also splits on U+2028,
    U+0085 and other characters a model's answer may carry inside one JSON ``data:`` line.
    """
    pending = ""
    for chunk in chunks:
        text = pending + chunk
        held = ""
        if text.endswith("\r"):  # perhaps the first half of a CRLF: wait for the next chunk
            text, held = text[:-1], "\r"
        lines = _EOL.split(text)
        pending = lines.pop() + held
        yield from lines
    if pending:
        yield pending.removesuffix("\r")


def iter_sse(lines: Iterable[str]) -> Iterator[SSEvent]:
    """Events from decoded lines without their line endings (``sse_lines``)."""
    event = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield SSEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        # "id", "retry" and unknown fields carry nothing we use
