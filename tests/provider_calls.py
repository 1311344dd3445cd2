"""A provider's request and what came of it, for the provider tests (not a test file): the short
waits they use, a request with a history, the streamed text, the failure raised."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kilocli.providers.base import ChatRequest, Message, TextDelta, Timeouts

FAST = Timeouts(connect=1.0, first_byte=0.4, idle=0.4)


def request(**fields) -> ChatRequest:
    base = ChatRequest(
        model="m-1",
        messages=(Message("user", "hi"), Message("assistant", "hello"), Message("user", "more")),
        system="Be brief.",
        max_tokens=321,
    )
    return replace(base, **fields)


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def failure_of(p, req: ChatRequest | None = None) -> Exception:
    with pytest.raises(Exception) as info:
        list(p.stream(req or request()))
    return info.value
