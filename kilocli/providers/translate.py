"""OpenAI Chat Completions requests in Anthropic Messages terms (pure; no I/O).

kilo serve hands every provider the client's conversation in OpenAI form (``ChatRequest.
raw_messages`` and ``params``); the Anthropic wire turns it into its own: system messages join the
top-level ``system``, an assistant's ``tool_calls`` become ``tool_use`` blocks, ``tool`` messages
become ``tool_result`` blocks of a user turn, and consecutive turns of one role are merged (the
Messages API wants them alternating). Parameters Anthropic has no equivalent for are not sent;
``ANTHROPIC_PARAMS`` names those it takes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

# OpenAI parameters the Anthropic wire can express; the rest are dropped (kilo serve says which)
ANTHROPIC_PARAMS = frozenset({"temperature", "top_p", "stop", "tools", "tool_choice", "user"})


def content_text(content: object) -> str:
    """The text of a message's content in either wire's shape: a string, or the text parts of a
    list of parts/blocks (``type`` text, input_text, or none given)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type", "text") in ("text", "input_text")
        )
    return ""


def _arguments(raw: object) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except ValueError:
        return {"arguments": raw}
    return value if isinstance(value, dict) else {"value": value}


def messages_to_anthropic(
    raw: Iterable[Mapping[str, Any]],
) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages) for the Messages API from OpenAI-form messages."""
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in raw:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            if text := content_text(content):
                system.append(text)
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if text := content_text(content):
                blocks.append({"type": "text", "text": text})
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id") or "",
                        "name": function.get("name") or "",
                        "input": _arguments(function.get("arguments")),
                    }
                )
            add("assistant", blocks)
        elif role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id") or "",
                "content": content_text(content),
            }
            add("user", [block])
        else:  # user (and anything unknown, read as the user speaking)
            if text := content_text(content):
                add("user", [{"type": "text", "text": text}])
    return ("\n\n".join(system) or None), out


def params_to_anthropic(params: Mapping[str, Any]) -> dict[str, Any]:
    """The body fields for the parameters in ``ANTHROPIC_PARAMS``; others are left out."""
    body: dict[str, Any] = {}
    for name in ("temperature", "top_p"):
        if params.get(name) is not None:
            body[name] = params[name]
    stop = params.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = params.get("tools")
    if isinstance(tools, list) and tools:
        body["tools"] = [
            {
                "name": fn.get("name", ""),
                "description": fn.get("description", ""),
                "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
            }
            for tool in tools
            if isinstance(tool, dict) and isinstance(fn := tool.get("function"), dict)
        ]
    choice = params.get("tool_choice")
    if choice == "auto":
        body["tool_choice"] = {"type": "auto"}
    elif choice == "required":
        body["tool_choice"] = {"type": "any"}
    elif choice == "none":
        body["tool_choice"] = {"type": "none"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        body["tool_choice"] = {"type": "tool", "name": choice["function"].get("name", "")}
    if isinstance(params.get("user"), str):
        body["metadata"] = {"user_id": params["user"]}
    return body
