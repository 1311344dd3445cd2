"""Prompt-cache breakpoints for providers where caching is opt-in (Anthropic, natively or through
OpenRouter): pure functions from a request to content blocks carrying ``cache_control``.

A breakpoint caches the whole prompt up to and including its block. Placed, at most four (the
API's limit): after each stable piece of the system prompt (the user's own prompt, then a chat's
files), after the last message of the prior turns (what this turn can read back), and after the
new prompt (what the next turn will read). When there are more, the earliest system piece goes
first: a later breakpoint covers it anyway. Prompts under the model's minimum cacheable length are
simply not cached by the provider; the markers do no harm.
"""

from __future__ import annotations

from typing import Any

from kilocli.providers.base import ChatRequest

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4


def _system_pieces(request: ChatRequest) -> tuple[str, ...]:
    if request.system_blocks:
        return request.system_blocks
    return (request.system,) if request.system else ()


def breakpoints(request: ChatRequest) -> tuple[frozenset[int], frozenset[int]]:
    """(system pieces, messages) by index that end a breakpoint."""
    pieces = _system_pieces(request)
    marks = [("system", i) for i, text in enumerate(pieces) if text]
    count = len(request.messages)
    marks += [("message", i) for i in (count - 2, count - 1) if i >= 0]
    marks = [(kind, i) for kind, i in marks if kind == "system" or request.messages[i].content]
    marks = marks[-MAX_BREAKPOINTS:]
    return (
        frozenset(i for kind, i in marks if kind == "system"),
        frozenset(i for kind, i in marks if kind == "message"),
    )


def _block(text: str, marked: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if marked:
        block["cache_control"] = dict(EPHEMERAL)
    return block


def system_blocks(request: ChatRequest) -> list[dict[str, Any]]:
    """The system prompt as text blocks, breakpoints marked ([] when there is none)."""
    marked, _ = breakpoints(request)
    return [_block(t, i in marked) for i, t in enumerate(_system_pieces(request)) if t]


def messages(request: ChatRequest) -> list[dict[str, Any]]:
    """The messages, a marked one as a one-block content list, the others as plain strings."""
    _, marked = breakpoints(request)
    return [
        {"role": m.role, "content": [_block(m.content, True)] if i in marked else m.content}
        for i, m in enumerate(request.messages)
    ]
