"""A real HTTP server on 127.0.0.1 that speaks OpenAI Chat Completions and Anthropic Messages.

It records every request (path, headers, JSON body) and plays scripted faults, one per request, in
order, before answering normally:

    server.script(faults=[rate_limited(retry_after=2), cut(after_chunks=2)], answer="Hi there")

Faults: ``status(code)`` (any HTTP error with a body in the right wire format; ``rate_limited``,
``unauthorized``, ``bad_request`` are shortcuts), ``read_timeout(delay)`` (silence before the first
byte), ``reset()`` (TCP reset before the first byte), ``cut(after_chunks)`` (the stream stops after
N text chunks), ``malformed(after_chunks)`` (an invalid JSON event), ``stream_error(after_chunks)``
(an error event inside a 200 stream), ``stall(after_chunks, delay)`` (silence mid-stream),
``silent_after_headers(delay, keepalive=False)`` (200 and SSE headers at once, then nothing but,
with ``keepalive``, a comment line every 0.2 s, as OpenRouter sends while an upstream is stuck).
``BlackHole`` is a listener whose accept queue is full: a connect to it times out.

Use in tests through the ``fake_server`` fixture (tests/conftest.py), or as a subprocess for
end-to-end CLI tests:

    python tests/fakeserver.py --port 0 [--answer TEXT] [--faults 429:1,cut:2]

prints the port on the first line of stdout, then serves until killed. A running server is
scripted over HTTP: ``POST /_control/script`` with ``{"faults": ["503", "cut:2"], "answer": "...",
"model": null}``, ``GET /_control/requests``, ``POST /_control/reset``. Fault strings: ``429``,
``429:2`` (Retry-After 2), any status code, ``timeout[:seconds]``, ``reset``, ``cut[:n]``,
``malformed[:n]``, ``error[:n]``, ``stall:n:seconds``, ``headers:seconds``, ``keepalive:seconds``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# -- scripts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    # status | timeout | reset | cut | cut_tools | malformed | stream_error | stall | headers
    kind: str
    status: int | None = None
    retry_after: str | None = None
    message: str | None = None
    code: str | None = None  # e.g. "insufficient_quota"
    after_chunks: int = 0
    delay: float = 0.0
    keepalive: bool = False


def status(
    code: int,
    message: str | None = None,
    *,
    retry_after: float | str | None = None,
    error_code: str | None = None,
) -> Fault:
    return Fault(
        "status",
        status=code,
        message=message,
        retry_after=None if retry_after is None else str(retry_after),
        code=error_code,
    )


def rate_limited(retry_after: float | str | None = None) -> Fault:
    return status(429, "Rate limit exceeded", retry_after=retry_after)


def unauthorized(message: str = "Invalid API key") -> Fault:
    return status(401, message)


def bad_request(message: str = "max_tokens is too large for this model") -> Fault:
    return status(400, message)


def read_timeout(delay: float = 5.0) -> Fault:
    return Fault("timeout", delay=delay)


def reset() -> Fault:
    return Fault("reset")


def cut(after_chunks: int = 2) -> Fault:
    return Fault("cut", after_chunks=after_chunks)


def malformed(after_chunks: int = 0) -> Fault:
    return Fault("malformed", after_chunks=after_chunks)


def stream_error(after_chunks: int = 0, message: str = "Upstream provider overloaded") -> Fault:
    return Fault("stream_error", after_chunks=after_chunks, message=message)


def stall(after_chunks: int = 1, delay: float = 5.0) -> Fault:
    return Fault("stall", after_chunks=after_chunks, delay=delay)


def cut_after_tool_calls() -> Fault:
    """Tear the connection after the tool-call pieces (OpenAI wire), before the finish."""
    return Fault("cut_tools")


def silent_after_headers(delay: float = 5.0, *, keepalive: bool = False) -> Fault:
    return Fault("headers", delay=delay, keepalive=keepalive)


def parse_fault(spec: str) -> Fault:
    """``429``, ``429:2``, ``503``, ``timeout:3``, ``reset``, ``cut:2``, ``malformed``, ``error:1``,
    ``stall:1:3`` (see the module docstring)."""
    name, *args = spec.strip().split(":")
    if name.isdigit():
        return status(int(name), retry_after=args[0] if args else None)
    n = int(args[0]) if args else None
    if name == "timeout":
        return read_timeout(float(args[0]) if args else 5.0)
    if name == "reset":
        return reset()
    if name == "cut":
        return cut(2 if n is None else n)
    if name == "malformed":
        return malformed(n or 0)
    if name == "error":
        return stream_error(n or 0)
    if name == "stall":
        return stall(1 if n is None else n, float(args[1]) if len(args) > 1 else 5.0)
    if name in ("headers", "keepalive"):
        return silent_after_headers(float(args[0]) if args else 5.0, keepalive=name == "keepalive")
    raise ValueError(f"unknown fault {spec!r}")


@dataclass(frozen=True)
class Answer:
    """A normal answer. ``input_tokens`` is the whole prompt, cached tokens included; the
    Anthropic wire gets it split the way Anthropic reports it."""

    text: str = "Hello from the fake server."
    input_tokens: int = 12
    output_tokens: int = 7
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None  # OpenRouter-style usage.cost (USD)
    finish_reason: str = "stop"  # OpenAI's words; the Anthropic wire maps stop and length
    chunk_delay: float = 0.0
    multiline: bool = False  # send each event's JSON over two data: lines
    usage: bool = True  # report usage at all
    # tool calls after the text: (name, arguments JSON); set finish_reason="tool_calls" with them
    tool_calls: tuple[tuple[str, str], ...] = ()

    def chunks(self) -> list[str]:
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)] if self.text else []


@dataclass
class Script:
    faults: deque[Fault] = field(default_factory=deque)
    answer: Answer = field(default_factory=Answer)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None
    fault: str | None  # the fault played for it, if any

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None


# -- server -------------------------------------------------------------------------------------


class FakeServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str | None, Script] = {None: Script()}
        self._requests: list[Recorded] = []
        self.stopping = threading.Event()
        self._httpd = _QuietServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> FakeServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL for both wire formats (the Anthropic provider accepts a trailing /v1)."""
        return f"{self.root}/v1"

    # -- scripting
    def script(
        self,
        faults: list[Fault | str] | tuple[Fault | str, ...] = (),
        answer: str | Answer | None = None,
        *,
        model: str | None = None,
        **answer_fields: Any,
    ) -> None:
        """Faults for the next requests (one each, in order), then ``answer`` for every request
        (None keeps the current answer; ``answer_fields`` change parts of it: tokens, cost, ...).
        With ``model``, only requests for that model follow this script."""
        queue = deque(parse_fault(f) if isinstance(f, str) else f for f in faults)
        with self._lock:
            current = self._scripts.get(model) or self._scripts[None]
            base = answer if isinstance(answer, Answer) else current.answer
            if isinstance(answer, str):
                base = replace(base, text=answer)
            if answer_fields:
                base = replace(base, **answer_fields)
            self._scripts[model] = Script(queue, base)

    def reset(self) -> None:
        with self._lock:
            self._scripts = {None: Script()}
            self._requests.clear()

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, model: str) -> list[Recorded]:
        return [r for r in self.requests if r.model == model]

    def _next(self, recorded: Recorded) -> tuple[Fault | None, Answer]:
        with self._lock:
            script = self._scripts.get(recorded.model) or self._scripts[None]
            fault = script.faults.popleft() if script.faults else None
            self._requests.append(replace(recorded, fault=fault.kind if fault else None))
            return fault, script.answer


class _QuietServer(ThreadingHTTPServer):
    # socketserver's default accept queue holds 5: under a burst of clients (bench/serve_load.py)
    # the kernel drops the rest of the SYNs, and each such client waits ~1 s to retry its connect
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up mid-answer (a test that stops reading) is normal here
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLLM/1.0"

    def setup(self) -> None:
        super().setup()
        # answer at once: headers and body go out in separate writes, and Nagle's algorithm would
        # hold the second one for the client's delayed ACK (40 ms a request)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def fake(self) -> FakeServer:
        return self.server.fake  # type: ignore[attr-defined]

    # -- routing
    def do_GET(self) -> None:
        if self.path == "/_control/requests":
            self._json(200, [asdict(r) for r in self.fake.requests])
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if self.path.startswith("/_control/"):
            self._control(body or {})
            return
        if self.path.endswith("/chat/completions"):
            wire = "openai"
        elif self.path.endswith("/messages"):
            wire = "anthropic"
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        fault, answer = self.fake._next(Recorded("POST", self.path, headers, body, None))
        try:
            self._serve(wire, body if isinstance(body, dict) else {}, fault, answer)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _control(self, body: dict[str, Any]) -> None:
        if self.path == "/_control/script":
            fields = body.get("answer_fields") or {}
            self.fake.script(
                body.get("faults") or [], body.get("answer"), model=body.get("model"), **fields
            )
        elif self.path == "/_control/reset":
            self.fake.reset()
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        self._json(200, {"ok": True})

    # -- answers
    def _serve(self, wire: str, body: dict[str, Any], fault: Fault | None, answer: Answer) -> None:
        model = str(body.get("model", "fake-model"))
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "timeout":
            if self.fake.stopping.wait(fault.delay):
                return
            fault = None  # the client may still be there: answer late
        if fault is not None and fault.kind == "status":
            self._error(wire, fault)
            return
        if not body.get("stream"):
            make = _openai_json if wire == "openai" else _anthropic_json
            self._json(200, make(answer, model))
            return
        if wire == "openai":
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _openai_events(answer, model, include_usage, fault)
        else:
            events = _anthropic_events(answer, model, fault)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if fault is not None and fault.kind == "headers":
            self.wfile.flush()
            if self._silence(fault.delay, fault.keepalive):
                return
        for item in events:
            if item is _CUT:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # no terminating chunk: a torn body
                return
            if isinstance(item, float):
                if self.fake.stopping.wait(item):
                    return
                continue
            self._chunk(item.encode())
            if answer.chunk_delay:
                time.sleep(answer.chunk_delay)
        self._chunk(b"")

    def _silence(self, delay: float, keepalive: bool) -> bool:
        """No answer for ``delay`` seconds (comment lines only, with ``keepalive``); True when
        the server is stopping."""
        end = time.monotonic() + delay
        while (left := end - time.monotonic()) > 0:
            if self.fake.stopping.wait(min(left, 0.2) if keepalive else left):
                return True
            if keepalive:
                self._chunk(b": keep-alive\n\n")
        return False

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, wire: str, fault: Fault) -> None:
        code = fault.status or 500
        message = fault.message or _DEFAULT_MESSAGES.get(code, "error")
        headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
        if wire == "anthropic":
            payload = {
                "type": "error",
                "error": {"type": _anthropic_type(code), "message": message},
            }
        else:
            kind = fault.code or _openai_type(code)
            payload = {"error": {"message": message, "type": kind, "code": fault.code or code}}
        self._json(code, payload, headers)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


_CUT = object()


class BlackHole:
    """A listener that never accepts, its queue filled: the kernel drops further SYNs, so a
    client connecting to it waits for its connect timeout (loopback's unreachable host)."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self._fillers.append(filler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        for sock in [*self._fillers, self._listener]:
            sock.close()

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DEFAULT_MESSAGES = {
    400: "Invalid request",
    401: "Invalid API key",
    402: "Insufficient credits",
    403: "Forbidden",
    404: "Model not found",
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    529: "Overloaded",
}


def _anthropic_type(code: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }.get(code, "api_error")


def _openai_type(code: int) -> str:
    return "invalid_request_error" if code < 500 else "server_error"


def _sse(data: Any, event: str | None = None, multiline: bool = False) -> str:
    text = (
        data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    )  # as real servers send UTF-8
    if multiline and text.startswith("{") and ", " in text:
        head, tail = text.split(", ", 1)  # a JSON object split between keys stays valid JSON
        lines = f"data: {head},\ndata: {tail}\n"
    else:
        lines = f"data: {text}\n"
    return (f"event: {event}\n" if event else "") + lines + "\n"


def _openai_usage(answer: Answer) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
    }
    if answer.cache_write_tokens:
        usage["prompt_tokens_details"]["cache_write_tokens"] = answer.cache_write_tokens
    if answer.cost is not None:
        usage["cost"] = answer.cost
    return usage


def _openai_chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _openai_events(
    answer: Answer, model: str, include_usage: bool, fault: Fault | None
) -> Iterator[Any]:
    """SSE text, a float (pause that long) or _CUT (tear the connection)."""
    ml = answer.multiline
    yield ": OPENROUTER PROCESSING\n\n"
    yield _sse(_openai_chunk(model, {"role": "assistant", "content": ""}, None), multiline=ml)
    chunks = answer.chunks()
    for i in range(len(chunks) + 1):
        if fault is not None and fault.after_chunks == i:
            if fault.kind == "cut":
                yield _CUT
                return
            if fault.kind == "stall":
                yield fault.delay
            if fault.kind == "malformed":
                yield 'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "oops"\n\n'
            if fault.kind == "stream_error":
                payload = _openai_chunk(model, {"content": ""}, "error")
                payload["error"] = {"code": 502, "message": fault.message}
                yield _sse(payload)
                yield _sse("[DONE]")
                return
        if i < len(chunks):
            yield _sse(_openai_chunk(model, {"content": chunks[i]}, None), multiline=ml)
    for n, (name, arguments) in enumerate(answer.tool_calls):
        head = {"index": n, "id": f"call_{n}", "type": "function"}
        head["function"] = {"name": name, "arguments": ""}
        yield _sse(_openai_chunk(model, {"tool_calls": [head]}, None))
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            piece = {"index": n, "function": {"arguments": part}}
            yield _sse(_openai_chunk(model, {"tool_calls": [piece]}, None))
    if fault is not None and fault.kind == "cut_tools":
        yield _CUT
        return
    yield _sse(_openai_chunk(model, {}, answer.finish_reason), multiline=ml)
    if include_usage and answer.usage:
        final = {**_openai_chunk(model, {}, None), "choices": [], "usage": _openai_usage(answer)}
        yield _sse(final, multiline=ml)
    yield _sse("[DONE]")


_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _anthropic_usage_start(answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens - answer.cached_tokens - answer.cache_write_tokens,
        "cache_creation_input_tokens": answer.cache_write_tokens,
        "cache_read_input_tokens": answer.cached_tokens,
        "output_tokens": 1,
    }


def _anthropic_events(answer: Answer, model: str, fault: Fault | None) -> Iterator[Any]:
    ml = answer.multiline
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _anthropic_usage_start(answer) if answer.usage else {},
    }
    yield _sse({"type": "message_start", "message": message}, "message_start", ml)
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    yield _sse(block, "content_block_start", ml)
    yield _sse({"type": "ping"}, "ping")
    chunks = answer.chunks()
    for i in range(len(chunks) + 1):
        if fault is not None and fault.after_chunks == i:
            if fault.kind == "cut":
                yield _CUT
                return
            if fault.kind == "stall":
                yield fault.delay
            if fault.kind == "malformed":
                yield 'event: content_block_delta\ndata: {"type": "content_block_delta",\n\n'
            if fault.kind == "stream_error":
                error = {"type": "overloaded_error", "message": fault.message}
                err = {"type": "error", "error": error}
                yield _sse(err, "error")
                return
        if i < len(chunks):
            text = {"type": "text_delta", "text": chunks[i]}
            delta = {"type": "content_block_delta", "index": 0, "delta": text}
            yield _sse(delta, "content_block_delta", ml)
    yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop", ml)
    for n, (name, arguments) in enumerate(answer.tool_calls, start=1):
        use = {"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": {}}
        start = {"type": "content_block_start", "index": n, "content_block": use}
        yield _sse(start, "content_block_start")
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            piece = {"type": "input_json_delta", "partial_json": part}
            yield _sse(
                {"type": "content_block_delta", "index": n, "delta": piece}, "content_block_delta"
            )
        yield _sse({"type": "content_block_stop", "index": n}, "content_block_stop")
    stop = _ANTHROPIC_STOP.get(answer.finish_reason, answer.finish_reason)
    final: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
    }
    if answer.usage:
        final["usage"] = {"output_tokens": answer.output_tokens}
    yield _sse(final, "message_delta", ml)
    yield _sse({"type": "message_stop"}, "message_stop", ml)


def _openai_json(answer: Answer, model: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": answer.finish_reason,
            }
        ],
    }
    if answer.tool_calls:
        payload["choices"][0]["message"]["tool_calls"] = [
            {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}}
            for n, (name, args) in enumerate(answer.tool_calls)
        ]
    if answer.usage:
        payload["usage"] = _openai_usage(answer)
    return payload


def _anthropic_json(answer: Answer, model: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer.text}]
        + [
            {"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": json.loads(args)}
            for n, (name, args) in enumerate(answer.tool_calls, start=1)
        ],
        "stop_reason": _ANTHROPIC_STOP.get(answer.finish_reason, answer.finish_reason),
        "stop_sequence": None,
    }
    if answer.usage:
        payload["usage"] = {**_anthropic_usage_start(answer), "output_tokens": answer.output_tokens}
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic server for tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--answer", default=None)
    parser.add_argument("--faults", default="", help="comma-separated, e.g. 429:1,cut:2")
    args = parser.parse_args(argv)
    server = FakeServer(port=args.port)
    faults = [f for f in args.faults.split(",") if f.strip()]
    server.script(faults, args.answer)
    print(server.port, flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server._httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
