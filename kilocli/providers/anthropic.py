"""Anthropic Messages over HTTP: ``POST {base}/v1/messages``.

Headers ``x-api-key`` and ``anthropic-version: 2023-06-01``; the system prompt is a top-level
field and ``max_tokens`` is always sent (the API requires it). Stream events: ``message_start``
(usage so far), ``content_block_start`` / ``content_block_delta`` / ``content_block_stop``,
``message_delta`` (stop reason, cumulative usage), ``message_stop``, ``ping`` and ``error``.

Prompt caching is opt-in: ``cache_control`` breakpoints are placed by ``cache_control``.
Anthropic's ``input_tokens`` leaves out cache reads and writes; they are added back so that
``UsageReport.input_tokens`` counts the whole prompt, as OpenAI's ``prompt_tokens`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from kilocli.providers import cache_control
from kilocli.providers._http import HttpProvider, Progress
from kilocli.providers.base import (
    ChatRequest,
    Event,
    Finished,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from kilocli.providers.errors import MalformedResponse
from kilocli.providers.sse import SSEvent
from kilocli.providers.translate import messages_to_anthropic, params_to_anthropic

ANTHROPIC_VERSION = "2023-06-01"

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def _count(value: object) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def parse_usage(usage: Mapping[str, Any]) -> UsageReport:
    cache_read = _count(usage.get("cache_read_input_tokens"))
    cache_write = _count(usage.get("cache_creation_input_tokens"))
    return UsageReport(
        input_tokens=_count(usage.get("input_tokens")) + cache_read + cache_write,
        output_tokens=_count(usage.get("output_tokens")),
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _stop(reason: object) -> str | None:
    return _STOP_REASONS.get(reason, reason) if isinstance(reason, str) else None


class AnthropicProvider(HttpProvider):
    def url(self) -> str:
        base = self.cfg.base_url.rstrip("/")
        # ANTHROPIC_BASE_URL is the host root; accept a pasted ".../v1" too
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION, "Accept": "text/event-stream"}
        if self.cfg.key:
            headers["x-api-key"] = self.cfg.key
        headers.update(self.cfg.headers)
        return headers

    def body(self, request: ChatRequest) -> dict[str, Any]:
        system = request.system
        if request.raw_messages is not None:
            system, messages = messages_to_anthropic(request.raw_messages)
        else:
            messages = [{"role": m.role, "content": m.content} for m in request.messages]
        body: dict[str, Any] = {
            **params_to_anthropic(request.params),
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": messages,
            "stream": request.stream,
        }
        if system:
            body["system"] = system
        # opt-in: without breakpoints Anthropic caches nothing (a served client's own conversation
        # is sent as it came)
        if request.prompt_cache and request.raw_messages is None:
            body["messages"] = cache_control.messages(request)
            if request.system:
                body["system"] = cache_control.system_blocks(request)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        body.update(self.cfg.extra_body)
        return body

    def parse_stream(self, events: Iterator[SSEvent], progress: Progress) -> Iterator[Event]:
        usage: dict[str, Any] = {}
        stop: str | None = None
        done = False
        tools: dict[object, int] = {}  # content block index -> tool call index
        for event in events:
            if event.event == "ping":
                continue
            data = self.event_json(event, progress)
            kind = data.get("type", event.event)
            if kind == "content_block_delta":
                delta = _obj(data.get("delta"))
                if delta.get("type") == "text_delta" and delta.get("text"):
                    yield TextDelta(delta["text"])
                elif delta.get("type") == "input_json_delta" and data.get("index") in tools:
                    partial = delta.get("partial_json")
                    if isinstance(partial, str) and partial:
                        yield ToolCallDelta(tools[data.get("index")], arguments=partial)
            elif kind == "content_block_start":
                block = _obj(data.get("content_block"))
                if block.get("type") == "text" and block.get("text"):
                    yield TextDelta(block["text"])
                elif block.get("type") == "tool_use":
                    tools[data.get("index")] = len(tools)
                    yield ToolCallDelta(
                        len(tools) - 1, id=str(block.get("id", "")), name=str(block.get("name", ""))
                    )
            elif kind == "message_start":
                _merge(usage, _obj(data.get("message")).get("usage"))
            elif kind == "message_delta":
                stop = _obj(data.get("delta")).get("stop_reason") or stop
                _merge(usage, data.get("usage"))  # cumulative counts: the latest wins
            elif kind == "message_stop":
                done = True
                break
        if not done and stop is None:
            raise self.ended_early(progress)
        if usage:
            yield parse_usage(usage)
        yield Finished(_stop(stop))

    def parse_json(self, data: dict[str, Any]) -> Iterator[Event]:
        content = data.get("content")
        if not isinstance(content, list):
            raise MalformedResponse(
                f"{self.name}: malformed response: no content in the answer", provider=self.name
            )
        text = "".join(
            block.get("text", "")
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
        if text:
            yield TextDelta(text)
        calls = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
        for index, block in enumerate(calls):
            yield ToolCallDelta(
                index,
                id=str(block.get("id", "")),
                name=str(block.get("name", "")),
                arguments=json.dumps(block.get("input") or {}),
            )
        if isinstance(data.get("usage"), dict):
            yield parse_usage(data["usage"])
        yield Finished(_stop(data.get("stop_reason")))


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _merge(into: dict[str, Any], usage: object) -> None:
    if isinstance(usage, dict):
        into.update({k: v for k, v in usage.items() if v is not None})
