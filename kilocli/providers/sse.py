"""Server-sent events framing (the WHATWG rules both wire formats use), nothing provider-specific.

Comment lines (``: OPENROUTER PROCESSING``) are skipped, several ``data:`` lines of one event are
joined with newlines, a blank line ends an event, and an event left unfinished when the stream
ends is dropped (it is the torn end of a cut connection, not a message).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEvent:
    event: str  # "message" when the server named none
    data: str


def iter_sse(lines: Iterable[str]) -> Iterator[SSEvent]:
    """Events from decoded lines without their line endings (httpx ``Response.iter_lines``)."""
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
