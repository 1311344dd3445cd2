"""OpenAI Chat Completions over HTTP: OpenAI, OpenRouter, Ollama and any compatible endpoint.

``POST {base_url}/chat/completions`` where the base URL ends in ``/v1``. Streaming asks for
``stream_options.include_usage`` so that one last chunk (empty ``choices``) carries the usage;
OpenRouter adds ``usage.cost`` in USD and cache-write counts; for Anthropic models it gets
``cache_control`` breakpoints on content parts (Anthropic's cache is opt-in). An ``error``
object may arrive inside a 200 stream (OpenRouter, vLLM, Ollama): it is classified like an HTTP
error.
"""

from __future__ import annotations

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


def _count(value: object) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def parse_usage(usage: Mapping[str, Any]) -> UsageReport:
    """OpenAI-style usage; ``prompt_tokens`` already includes cached tokens."""
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    cached = _count(prompt_details.get("cached_tokens")) or _count(
        usage.get("prompt_cache_hit_tokens")  # DeepSeek's spelling
    )
    cost = usage.get("cost")
    return UsageReport(
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        cached_input_tokens=cached,
        reasoning_tokens=_count(completion_details.get("reasoning_tokens")),
        cost_usd=float(cost)
        if isinstance(cost, (int, float)) and not isinstance(cost, bool)
        else None,
        cache_write_tokens=_count(prompt_details.get("cache_write_tokens")),
    )


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


class OpenAICompatProvider(HttpProvider):
    def url(self) -> str:
        return self.cfg.base_url.rstrip("/") + "/chat/completions"

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream, application/json"}
        if self.cfg.key:
            headers["Authorization"] = f"Bearer {self.cfg.key}"
        headers.update(self.cfg.headers)
        return headers

    def body(self, request: ChatRequest) -> dict[str, Any]:
        messages: list[dict[str, Any]]
        if request.raw_messages is not None:
            messages = [dict(m) for m in request.raw_messages]
        elif self._anthropic_cache(request):
            # OpenRouter passes content parts' cache_control on to Anthropic
            system = cache_control.system_blocks(request)
            messages = [{"role": "system", "content": system}] if system else []
            messages.extend(cache_control.messages(request))
        else:
            messages = [{"role": "system", "content": request.system}] if request.system else []
            messages.extend({"role": m.role, "content": m.content} for m in request.messages)
        body: dict[str, Any] = {
            **request.params,
            "model": request.model,
            "messages": messages,
            self.cfg.max_tokens_field: request.max_tokens,
            "stream": request.stream,
        }
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        body.update(self.cfg.extra_body)
        return body

    def _anthropic_cache(self, request: ChatRequest) -> bool:
        """Anthropic models through OpenRouter cache only what carries breakpoints (OpenAI,
        DeepSeek, Gemini 2.5 cache by themselves: their bodies stay plain)."""
        return (
            request.prompt_cache
            and self.cfg.name == "openrouter"
            and request.model.startswith("anthropic/")
        )

    def parse_stream(self, events: Iterator[SSEvent], progress: Progress) -> Iterator[Event]:
        finish: str | None = None
        usage: UsageReport | None = None
        done = False
        for event in events:
            if event.data.strip() == "[DONE]":
                done = True
                break
            data = self.event_json(event, progress)
            if data.get("usage"):
                usage = parse_usage(data["usage"])
            for choice in data.get("choices") or ():
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta")
                text = _text(delta.get("content")) if isinstance(delta, dict) else ""
                if text:
                    yield TextDelta(text)
                if isinstance(delta, dict):
                    yield from _tool_deltas(delta.get("tool_calls"))
                finish = choice.get("finish_reason") or finish
        if not done and finish is None:
            raise self.ended_early(progress)
        if usage is not None:
            yield usage
        yield Finished(finish)

    def parse_json(self, data: dict[str, Any]) -> Iterator[Event]:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise MalformedResponse(
                f"{self.name}: malformed response: no choices in the answer", provider=self.name
            )
        message = choices[0].get("message")
        text = _text(message.get("content")) if isinstance(message, dict) else ""
        if text:
            yield TextDelta(text)
        if isinstance(message, dict):
            yield from _tool_deltas(message.get("tool_calls"))
        if data.get("usage"):
            yield parse_usage(data["usage"])
        yield Finished(choices[0].get("finish_reason"))


def _tool_deltas(calls: object) -> Iterator[ToolCallDelta]:
    """Tool-call pieces of a delta (or whole calls of a message), in the order they came."""
    if not isinstance(calls, list):
        return
    for position, call in enumerate(calls):
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        index = call.get("index", position)
        arguments = function.get("arguments")
        yield ToolCallDelta(
            index=index if isinstance(index, int) else position,
            id=call.get("id") if isinstance(call.get("id"), str) else None,
            name=function.get("name") if isinstance(function.get("name"), str) else None,
            arguments=arguments if isinstance(arguments, str) else "",
        )
