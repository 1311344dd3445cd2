"""The ASGI app: routes, body limits and the error shape; the work is in ``turns``.

    POST /v1/chat/completions   OpenAI Chat Completions, streaming (SSE, [DONE]) or not
    POST /v1/messages           Anthropic Messages, streaming or not
    GET  /v1/models             the tier aliases and the catalogue models the keys reach
    GET  /healthz               {"ok": true}

No CORS headers are sent: a web page on another origin cannot call it from a browser.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kilocli.providers.base import Finished, TextDelta, ToolCallDelta
from kilocli.serve import anthropic_api, openai_api
from kilocli.serve.request import TIER_ALIASES, ApiError
from kilocli.serve.turns import ServeContext, is_outcome, outcome_usage, route_headers, start

MAX_BODY_BYTES = 8 * 1024 * 1024
_DRAIN_LIMIT = 64 * 1024 * 1024  # an oversized body is read this far (so the client sees 413)
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def read_json(request: Request) -> Any:
    """The body as JSON, at most MAX_BODY_BYTES; ApiError 413 / 400 otherwise."""
    too_big = ApiError(
        413, f"request body is over {MAX_BODY_BYTES // (1024 * 1024)} MiB", code="body_too_large"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN_LIMIT:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif size > _DRAIN_LIMIT:
            break
    if size > MAX_BODY_BYTES:
        raise too_big
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"invalid JSON in the request body: {exc}") from None


def _openai_error(error: ApiError) -> Response:
    return JSONResponse(openai_api.error_body(error), error.status, headers=error.headers)


def _anthropic_error(error: ApiError) -> Response:
    return JSONResponse(anthropic_api.error_body(error), error.status, headers=error.headers)


def build_app(ctx: ServeContext) -> Starlette:
    async def guarded(
        request: Request,
        handler: Callable[[Request], Any],
        on_error: Callable[[ApiError], Response],
    ) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return on_error(exc)
        except Exception as exc:  # one line, never a traceback with locals (keys live there)
            return on_error(
                ApiError(500, f"internal error: {type(exc).__name__}", kind="server_error")
            )

    async def chat_completions(request: Request) -> Response:
        return await guarded(request, _chat, _openai_error)

    async def messages(request: Request) -> Response:
        return await guarded(request, _messages, _anthropic_error)

    async def _chat(request: Request) -> Response:
        req = openai_api.parse_chat_request(await read_json(request))
        turn, first = await start(ctx, req)
        attempt = None if is_outcome(first) else first[0]
        headers = route_headers(turn, attempt)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if req.stream:
            body = _openai_stream(ctx, turn, first, completion_id, req.include_usage)
            return StreamingResponse(
                body, media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
            )
        reply = openai_api.Reply()
        finish: str | None = None
        model = attempt.model_id if attempt else turn.prepared.decision.model
        async for item in turn.items(first):
            if is_outcome(item):
                outcome = item
                break
            attempt, event = item
            model = attempt.model_id
            if isinstance(event, TextDelta):
                reply.text.append(event.text)
            elif isinstance(event, ToolCallDelta):
                reply.add_tool_delta(event.index, event.id, event.name, event.arguments)
            elif isinstance(event, Finished):
                finish = event.finish_reason
        if outcome.status != "ok":
            return _openai_error(
                ApiError(502, ctx.scrub(outcome.error or "the call failed"), kind="upstream_error")
            )
        usage = openai_api.usage_json(*outcome_usage(outcome))
        payload = openai_api.completion_json(completion_id, model, reply, finish, usage)
        return JSONResponse(payload, headers=headers)

    async def _messages(request: Request) -> Response:
        req = anthropic_api.parse_messages_request(await read_json(request))
        turn, first = await start(ctx, req)
        attempt = None if is_outcome(first) else first[0]
        headers = route_headers(turn, attempt)
        message_id = f"msg_{uuid.uuid4().hex}"
        model = attempt.model_id if attempt else turn.prepared.decision.model
        writer = anthropic_api.MessageWriter(message_id, model)
        if req.stream:
            body = _anthropic_stream(ctx, turn, first, writer)
            return StreamingResponse(
                body, media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
            )
        outcome = None
        async for item in turn.items(first):
            if is_outcome(item):
                outcome = item
                break
            writer.feed(item[1])
        assert outcome is not None
        if outcome.status != "ok":
            return _anthropic_error(
                ApiError(502, ctx.scrub(outcome.error or "the call failed"), kind="api_error")
            )
        return JSONResponse(writer.message_json(outcome), headers=headers)

    async def models(request: Request) -> Response:
        reachable = ctx.router.reachable or {}
        data = [
            {"id": alias, "object": "model", "created": 0, "owned_by": "kilocli"}
            for alias in TIER_ALIASES
        ]
        data += [
            {"id": model_id, "object": "model", "created": 0, "owned_by": provider}
            for model_id, provider in sorted(reachable.items())
        ]
        return JSONResponse({"object": "list", "data": data})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/models", models, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


async def _openai_stream(
    ctx: ServeContext, turn: Any, first: Any, completion_id: str, include_usage: bool
) -> AsyncIterator[bytes]:
    created = int(time.time())
    model = turn.prepared.decision.model
    finished = False
    try:
        if not is_outcome(first):
            model = first[0].model_id
        # the role chunk goes out with the first content: one write, not two
        out = [
            openai_api.sse(
                openai_api.chunk(
                    completion_id, model, {"role": "assistant", "content": ""}, created=created
                )
            )
        ]
        outcome = None
        # events that queued up while the loop was busy go out in one write
        async for batch in turn.batches(first):
            for item in batch:
                if is_outcome(item):
                    outcome = item
                    break
                attempt, event = item
                model = attempt.model_id
                if isinstance(event, TextDelta):
                    delta: dict[str, Any] | None = {"content": event.text}
                elif isinstance(event, ToolCallDelta):
                    delta = openai_api.tool_delta(
                        event.index, event.id, event.name, event.arguments
                    )
                elif isinstance(event, Finished):
                    reason = event.finish_reason or "stop"
                    out.append(
                        openai_api.sse(
                            openai_api.chunk(completion_id, model, {}, reason, created=created)
                        )
                    )
                    delta = None
                else:
                    delta = None
                if delta is not None:
                    out.append(
                        openai_api.sse(
                            openai_api.chunk(completion_id, model, delta, created=created)
                        )
                    )
            if out:
                yield b"".join(out)
                out = []
        finished = True
        assert outcome is not None
        if outcome.status != "ok":
            # after the first byte the status is sent: an error object in the stream says it
            message = ctx.scrub(outcome.error or "the call failed")
            yield openai_api.sse({"error": {"message": message, "type": "upstream_error"}})
            return
        if include_usage:
            usage = openai_api.usage_json(*outcome_usage(outcome))
            last = openai_api.chunk(completion_id, model, {}, created=created)
            yield openai_api.sse({**last, "choices": [], "usage": usage})
        yield openai_api.sse("[DONE]")
    finally:
        if not finished:  # the client went away (or shutdown ran out of time): stop the call
            turn.cancel.set()


async def _anthropic_stream(
    ctx: ServeContext, turn: Any, first: Any, writer: anthropic_api.MessageWriter
) -> AsyncIterator[bytes]:
    finished = False
    try:
        out = [writer.start_event()]
        outcome = None
        async for batch in turn.batches(first):
            for item in batch:
                if is_outcome(item):
                    outcome = item
                    break
                out.extend(writer.events_for(item[1]))
            if out:
                yield b"".join(out)
                out = []
        finished = True
        assert outcome is not None
        if outcome.status != "ok":
            yield anthropic_api.error_event(ctx.scrub(outcome.error or "the call failed"))
            return
        for data in writer.end_events(outcome):
            yield data
    finally:
        if not finished:
            turn.cancel.set()
