"""What a prompt-cache breakpoint looks like on the wire, for the prompt-cache tests (not a test
file)."""

from __future__ import annotations

import json

EPHEMERAL = {"type": "ephemeral"}


def marked(text: str) -> list[dict[str, object]]:
    return [{"type": "text", "text": text, "cache_control": EPHEMERAL}]


def count_marks(body: object) -> int:
    return json.dumps(body).count('"cache_control"')
