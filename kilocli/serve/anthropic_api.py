"""Anthropic Messages on the wire: a request in OpenAI form for the router, responses back out.

The body becomes a ``ServeRequest`` whose messages are in OpenAI form (``system`` first, a
``tool_use`` block as an assistant ``tool_calls`` entry, a ``tool_result`` block as a ``tool``
message), so the routing, recording and providers are the ones /v1/chat/completions uses. The
answer's events are written back as Messages events (``message_start``, content blocks,
``message_delta``, ``message_stop``) or as one message object.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kilocli.providers.base import Event, Finished, TextDelta, ToolCallDelta
from kilocli.providers.translate import content_text
from kilocli.serve.request import ApiError, ServeRequest, common_fields

if TYPE_CHECKING:
    from kilocli.engine import TurnOutcome

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
# Messages fields with no OpenAI counterpart: not sent upstream, named in x-kilo-dropped-params
_NOT_PASSED = ("top_k", "thinking", "container", "mcp_servers", "service_tier")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
}


def _blocks(content: object, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and all(isinstance(b, dict) for b in content):
        return content
    raise ApiError(400, f"{where}.content must be a string or an array of blocks", param=where)


def _convert_messages(raw: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise ApiError(
                400, f"{where} must be an object with role user or assistant", param=where
            )
        blocks = _blocks(message.get("content"), where)
        text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
        if message["role"] == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": text}
            calls = [
                {
                    "id": str(b.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": str(b.get("name", "")),
                        "arguments": json.dumps(b.get("input") or {}),
                    },
                }
                for b in blocks
                if b.get("type") == "tool_use"
            ]
            if calls:
                entry["tool_calls"] = calls
            out.append(entry)
            continue
        for b in blocks:
            if b.get("type") == "tool_result":
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": str(b.get("tool_use_id", "")),
                        "content": content_text(b.get("content")),
                    }
                )
        if text or not any(b.get("type") == "tool_result" for b in blocks):
            out.append({"role": "user", "content": text})
    return out


def parse_messages_request(body: object) -> ServeRequest:
    """A validated Messages request as a ServeRequest; ApiError 400 naming the field otherwise."""
    body, model, raw, stream = common_fields(body)
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise ApiError(400, "max_tokens must be a positive integer", param="max_tokens")
    messages = _convert_messages(raw)
    if not any(m["role"] == "user" for m in messages):
        raise ApiError(400, "messages must hold at least one user message", param="messages")
    system = body.get("system")
    system_text = content_text(system)
    if system_text:
        messages.insert(0, {"role": "system", "content": system_text})
    params: dict[str, Any] = {}
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            params[name] = body[name]
    if body.get("stop_sequences"):
        params["stop"] = body["stop_sequences"]
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.get("name", ""),
                    "description": t.get("description", ""),
                    "parameters": t.get("input_schema") or {"type": "object", "properties": {}},
                },
            }
            for t in tools
            if isinstance(t, dict)
        ]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "tool":
            params["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
        elif kind in ("auto", "none"):
            params["tool_choice"] = kind
        elif kind == "any":
            params["tool_choice"] = "required"
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        params["user"] = metadata["user_id"]
    return ServeRequest(
        model=model,
        messages=tuple(messages),
        params=params,
        stream=stream,
        max_tokens=max_tokens,
        dropped=tuple(name for name in _NOT_PASSED if name in body),
    )


def error_body(error: ApiError) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(error.status, "api_error" if error.status >= 500 else error.kind)
    return {"type": "error", "error": {"type": kind, "message": error.message}}


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def error_event(message: str) -> bytes:
    return _sse("error", {"type": "error", "error": {"type": "api_error", "message": message}})


class MessageWriter:
    """Turns the answer's events into Messages content blocks, streamed or gathered."""

    def __init__(self, message_id: str, model: str) -> None:
        self.message_id = message_id
        self.model = model
        self.blocks: list[dict[str, Any]] = []
        self._open: tuple[str, int] | None = None  # ("text", -1) or ("tool", tool index)
        self._arguments: dict[int, list[str]] = {}
        self.stop_reason: str | None = None

    def _head(self) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }

    def start_event(self) -> bytes:
        return _sse("message_start", {"type": "message_start", "message": self._head()})

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [
            _sse(
                "content_block_stop", {"type": "content_block_stop", "index": len(self.blocks) - 1}
            )
        ]

    def _start(self, block: dict[str, Any], key: tuple[str, int]) -> list[bytes]:
        out = self._close()
        self.blocks.append(block)
        self._open = key
        start = {"type": "content_block_start", "index": len(self.blocks) - 1}
        shown = {**block, "input": {}} if block["type"] == "tool_use" else {**block, "text": ""}
        out.append(_sse("content_block_start", {**start, "content_block": shown}))
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        data = {"type": "content_block_delta", "index": len(self.blocks) - 1, "delta": delta}
        return _sse("content_block_delta", data)

    def events_for(self, event: Event) -> list[bytes]:
        out: list[bytes] = []
        if isinstance(event, TextDelta) and event.text:
            if self._open != ("text", -1):
                out += self._start({"type": "text", "text": ""}, ("text", -1))
            self.blocks[-1]["text"] += event.text
            out.append(self._delta({"type": "text_delta", "text": event.text}))
        elif isinstance(event, ToolCallDelta):
            if self._open != ("tool", event.index):
                block = {
                    "type": "tool_use",
                    "id": event.id or "",
                    "name": event.name or "",
                    "input": {},
                }
                out += self._start(block, ("tool", event.index))
                self._arguments[len(self.blocks) - 1] = []
            if event.arguments:
                self._arguments[len(self.blocks) - 1].append(event.arguments)
                out.append(
                    self._delta({"type": "input_json_delta", "partial_json": event.arguments})
                )
        elif isinstance(event, Finished):
            self.stop_reason = _STOP.get(event.finish_reason or "stop", event.finish_reason)
        return out

    def feed(self, event: Event) -> None:
        self.events_for(event)

    def _usage(self, outcome: TurnOutcome) -> dict[str, Any]:
        return {
            "input_tokens": max(0, outcome.input_tokens - outcome.cached_input_tokens),
            "cache_read_input_tokens": outcome.cached_input_tokens,
            "output_tokens": outcome.output_tokens,
            "cost_usd": outcome.cost_usd,
        }

    def end_events(self, outcome: TurnOutcome) -> list[bytes]:
        out = self._close()
        delta = {"stop_reason": self.stop_reason or "end_turn", "stop_sequence": None}
        out.append(
            _sse(
                "message_delta",
                {"type": "message_delta", "delta": delta, "usage": self._usage(outcome)},
            )
        )
        out.append(_sse("message_stop", {"type": "message_stop"}))
        return out

    def message_json(self, outcome: TurnOutcome) -> dict[str, Any]:
        content = []
        for index, block in enumerate(self.blocks):
            if block["type"] == "tool_use":
                raw = "".join(self._arguments.get(index, []))
                try:
                    block = {**block, "input": json.loads(raw) if raw else {}}
                except ValueError:
                    block = {**block, "input": {"arguments": raw}}
            content.append(block)
        return {
            **self._head(),
            "content": content,
            "stop_reason": self.stop_reason or "end_turn",
            "usage": self._usage(outcome),
        }
