"""What kilo serve knows about one request, whichever API it came in on (pure; no I/O).

Both endpoints turn their body into a ``ServeRequest``: the conversation in OpenAI Chat
Completions form (what the providers take, see ``ChatRequest.raw_messages``), the parameters to
pass through, and the text views the router and the store need. Every refusal is an ``ApiError``
with the HTTP status and the wording the client sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kilocli.providers.translate import content_text
from kilocli.routing.taxonomy import TIERS

# the model names that route; any other must be a catalogue id (pinned, no routing)
# ("kilo-auto": the tier kilo serve runs with, --tier else config; "kilo-<tier>": that tier)
TIER_ALIASES: dict[str, str | None] = {"kilo-auto": None, **{f"kilo-{t}": t for t in TIERS}}


class ApiError(Exception):
    """A refusal: HTTP status, OpenAI error type, a one-line message and the parameter at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class ServeRequest:
    model: str  # as the client named it
    messages: tuple[dict[str, Any], ...]  # OpenAI form, system and tool turns included
    params: dict[str, Any]  # passed through to the upstream (tools, temperature, stop, ...)
    stream: bool
    max_tokens: int | None
    include_usage: bool = False  # stream_options.include_usage
    dropped: tuple[str, ...] = field(default=())  # refused here for every upstream (e.g. "n")

    @property
    def user_turns(self) -> list[str]:
        """The user's texts, oldest first: the last is classified, the rest are its context."""
        return [text for m in self.messages if m.get("role") == "user" and (text := text_of(m))]

    @property
    def prompt(self) -> str:
        """What the store shows as this turn's prompt: the last message (a tool result says so)."""
        last = self.messages[-1]
        text = text_of(last)
        role = last.get("role")
        return text if role == "user" else f"[{role}] {text}"

    @property
    def all_text(self) -> str:
        return "\n".join(text_of(m) for m in self.messages)


def common_fields(body: object) -> tuple[dict[str, Any], str, list[Any], bool]:
    """What both APIs require alike: a JSON object with a model, a non-empty messages array and
    a boolean stream flag; ApiError 400 naming the field at fault otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "model is required (kilo-auto routes each request)", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty array", param="messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "stream must be true or false", param="stream")
    return body, model, messages, stream


def text_of(message: Mapping[str, Any]) -> str:
    """A message's text: a string, or the text parts of a content list."""
    return content_text(message.get("content"))


def resolve_model(
    name: str, default_tier: str, catalogue_ids: Sequence[str]
) -> tuple[str, str | None]:
    """(tier, pinned model id or None) for a request's ``model``; ApiError 404 when unknown."""
    if name in TIER_ALIASES:
        return TIER_ALIASES[name] or default_tier, None
    if name in catalogue_ids:
        return default_tier, name
    raise ApiError(
        404,
        f"model {name!r} does not exist here: use kilo-auto, kilo-auto-efficient, kilo-balanced, "
        "kilo-frontier, kilo-free or a catalogue id (GET /v1/models)",
        kind="invalid_request_error",
        param="model",
        code="model_not_found",
    )
