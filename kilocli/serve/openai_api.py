"""OpenAI Chat Completions on the wire: the request body in, responses and stream chunks out.

Pure functions over dicts. Parameters kilo serve does not handle itself (tools, tool_choice,
response_format, temperature, stop, seed, ...) are passed through untouched; ``n`` above 1 is
refused, since one routed model answers once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kilocli.serve.request import ApiError, ServeRequest, common_fields

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# fields read here, never passed through as they are
_OWN = frozenset(
    {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n"}
)


def _positive_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ApiError(400, f"{name} must be a positive integer", param=name)
    return value


def parse_chat_request(body: object) -> ServeRequest:
    """A validated request; ApiError 400 naming the field at fault otherwise."""
    body, model, messages, stream = common_fields(body)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ApiError(
                400,
                f"messages[{i}] must be an object with a role "
                "(system, developer, user, assistant or tool)",
                param=f"messages[{i}]",
            )
    if not any(m.get("role") == "user" for m in messages):
        raise ApiError(400, "messages must hold at least one user message", param="messages")
    n = body.get("n")
    if n is not None and n != 1:
        raise ApiError(400, "n must be 1: one routed model answers once", param="n")
    max_tokens = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    params = {k: v for k, v in body.items() if k not in _OWN}
    return ServeRequest(
        model=model,
        messages=tuple(messages),
        params=params,
        stream=stream,
        max_tokens=max_tokens,
        include_usage=include_usage,
    )


def error_body(error: ApiError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": error.kind,
            "param": error.param,
            "code": error.code,
        }
    }


@dataclass
class ToolCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class Reply:
    """What the upstream said, gathered for a non-streaming response."""

    text: list[str] = field(default_factory=list)
    tool_calls: dict[int, ToolCall] = field(default_factory=dict)

    def add_tool_delta(self, index: int, id: str | None, name: str | None, arguments: str) -> None:
        call = self.tool_calls.setdefault(index, ToolCall())
        call.id = id or call.id
        call.name = name or call.name
        call.arguments += arguments


def usage_json(
    input_tokens: int, output_tokens: int, cached: int, reasoning: int, cost: float | None
) -> dict[str, Any]:
    """OpenAI usage with kilo's own ``cost`` (USD, as OpenRouter reports it; null: unpriced)."""
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
        "cost": cost,
    }


def completion_json(
    completion_id: str,
    model: str,
    reply: Reply,
    finish_reason: str | None,
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.text) or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for _, call in sorted(reply.tool_calls.items())
        ]
    elif message["content"] is None:
        message["content"] = ""
    payload: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason or "stop"}],
    }
    if usage is not None:
        payload["usage"] = usage
    return payload


def chunk(
    completion_id: str,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    *,
    created: int,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def tool_delta(index: int, id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index}
    if id:
        call["id"] = id
        call["type"] = "function"
    function: dict[str, Any] = {}
    if name:
        function["name"] = name
    function["arguments"] = arguments
    call["function"] = function
    return {"tool_calls": [call]}


def sse(payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()
