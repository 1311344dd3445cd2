"""What every provider speaks: a request in, a stream of events out.

A provider is a small object with one job (``stream``); the wire formats live in ``openai_compat``
and ``anthropic``. Events, in order: any number of ``TextDelta`` and ``ToolCallDelta``, at most
one ``UsageReport``, then ``Finished``. A non-streaming request yields the same events from one
JSON response.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kilocli.providers.config import ProviderConfig

__all__ = [
    "ChatRequest",
    "Event",
    "Finished",
    "Message",
    "Provider",
    "ProviderConfig",
    "TextDelta",
    "Timeouts",
    "ToolCallDelta",
    "UsageReport",
]


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str  # the provider's own model id (e.g. "anthropic/claude-sonnet-4.5" on OpenRouter)
    messages: tuple[Message, ...]
    system: str | None = None
    max_tokens: int = 4096
    stream: bool = True
    temperature: float | None = None
    # ``system`` in stable pieces (the user's prompt, the files of a chat), joined by a blank line
    system_blocks: tuple[str, ...] = ()
    # mark prompt-cache breakpoints where caching is opt-in (Anthropic, natively or via OpenRouter)
    prompt_cache: bool = False
    # a client's own conversation in OpenAI Chat Completions form (system, tool calls and tool
    # results included), sent instead of ``messages`` (kilo serve); Anthropic translates it
    raw_messages: tuple[Mapping[str, Any], ...] | None = None
    # more Chat Completions parameters passed through (tools, tool_choice, stop, top_p, ...)
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call, as OpenAI streams it: ``index`` says which call; ``id`` and
    ``name`` come once, ``arguments`` (JSON text) arrives in pieces to be concatenated."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Real token counts for the whole call, normalised across wire formats.

    ``input_tokens`` is every prompt token, cached ones included (OpenAI's convention; Anthropic's
    separate cache counts are added back). ``cached_input_tokens`` were read from the prompt
    cache, ``cache_write_tokens`` were written to it (Anthropic and OpenRouter report them; they
    cost more than plain input). ``reasoning_tokens`` are part of ``output_tokens``. ``cost_usd``
    only when the provider itself reports a cost (OpenRouter's ``usage.cost``), else None.
    """

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Finished:
    # normalised: "stop" (natural end), "length" (hit max_tokens), else the provider's own word
    finish_reason: str | None


Event = TextDelta | ToolCallDelta | UsageReport | Finished


@runtime_checkable
class Provider(Protocol):
    name: str
    key_env: str | None

    def stream(
        self, request: ChatRequest, stop: threading.Event | None = None
    ) -> Iterator[Event]: ...


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``connect``: to open the connection (TLS included). ``first_byte``: from sending
    the request to the first piece of the answer (a provider that accepts and stays silent, or
    sends only keep-alive comments). ``idle``: the longest silence between two pieces of a
    streaming answer once it has started."""

    connect: float = 10.0
    first_byte: float = 60.0
    idle: float = 30.0

    @property
    def read(self) -> float:
        """The socket-level bound given to httpx: no single read may wait longer than either
        limit. The runner enforces each limit itself, with a message naming it."""
        return max(self.first_byte, self.idle)
