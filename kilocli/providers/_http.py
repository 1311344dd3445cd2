"""The HTTP part every wire format shares: one POST, streamed, with every failure classified.

A wire module subclasses ``HttpProvider`` and says only what differs: URL, headers, body, and how to
read a stream or a JSON answer. Transport exceptions become ``errors.ProviderFailure`` here, raised
outside any ``except`` block so that no httpx exception (whose request holds the key) rides along
as ``__context__``.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from kilocli import __version__
from kilocli.errors import ConfigError
from kilocli.providers.base import ChatRequest, Event, ProviderConfig, TextDelta, Timeouts
from kilocli.providers.errors import (
    ConnectionReset,
    MalformedResponse,
    ProviderFailure,
    StreamInterrupted,
    from_exception,
    from_status,
    from_stream_error,
    scrub,
)
from kilocli.providers.sse import SSEvent, iter_sse, sse_lines

_ERROR_BODY_LIMIT = 64 * 1024  # an error page is read this far, no further


_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None
_PROXY_VARS = ("https_proxy", "http_proxy", "all_proxy")


def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: loading the CA bundle costs about 40 ms, so it
    is done once per process (and can be done early, on a thread: see ``runner.prewarm``)."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            # the same trust httpx would use: SSL_CERT_FILE / SSL_CERT_DIR, else certifi's bundle
            if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
                _ssl_context = ssl.create_default_context(
                    cafile=os.environ.get("SSL_CERT_FILE"), capath=os.environ.get("SSL_CERT_DIR")
                )
            else:
                import certifi

                _ssl_context = ssl.create_default_context(cafile=certifi.where())
        return _ssl_context


def _needs_tls(base_url: str) -> bool:
    """False for a plain-http endpoint reached without a proxy: then no TLS context is built."""
    if base_url.startswith("https://"):
        return True
    return any(os.environ.get(v) or os.environ.get(v.upper()) for v in _PROXY_VARS)


class Progress:
    """What has streamed so far in one call: decides between 'reset' and 'cut after tokens'."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[str] = []

    def add(self, text: str) -> None:
        self._parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)


def _safe_url(url: str) -> str:
    """The URL without user:password@ (a custom base URL may carry credentials)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


class HttpProvider:
    """Base of the wire formats. Holds one lazily made ``httpx.Client``, reused across calls."""

    def __init__(
        self,
        cfg: ProviderConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.key_env = cfg.key_env
        self.timeouts = timeouts or Timeouts()
        self._transport = transport
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cfg!r})"

    # -- what a wire format defines ------------------------------------------------------------

    def url(self) -> str:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def body(self, request: ChatRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse_stream(self, events: Iterator[SSEvent], progress: Progress) -> Iterator[Event]:
        raise NotImplementedError

    def parse_json(self, data: dict[str, Any]) -> Iterator[Event]:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------

    def client(self) -> httpx.Client:
        if self._client is None:
            t = self.timeouts
            self._client = httpx.Client(
                transport=self._transport,
                verify=shared_ssl_context() if _needs_tls(self.cfg.base_url) else False,
                timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.connect),
                follow_redirects=False,
                # kilo serve shares one client between hundreds of concurrent streams
                limits=httpx.Limits(max_connections=512, max_keepalive_connections=64),
                headers={"User-Agent": f"kilocli/{__version__}"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def stream(self, request: ChatRequest, stop: threading.Event | None = None) -> Iterator[Event]:
        """The answer's events. Setting ``stop`` (the runner gave up on this call: a limit ran
        out, or the user cancelled) ends the stream at the next bytes that arrive, keep-alives
        included, and closes the connection, which tells the provider to stop generating."""
        progress = Progress()
        url = self.url()
        failure: ProviderFailure | None = None
        try:
            with self.client().stream(
                "POST", url, json=self.body(request), headers=self.headers()
            ) as response:
                if response.status_code >= 400:
                    failure = from_status(
                        self.name,
                        response.status_code,
                        response.headers,
                        _read_bounded(response),
                        key_env=self.key_env,
                        secrets=self.cfg.secrets,
                    )
                elif request.stream and _is_event_stream(response):
                    lines = iter_sse(sse_lines(_until(stop, response.iter_text())))
                    for event in self.parse_stream(lines, progress):
                        if isinstance(event, TextDelta):
                            progress.add(event.text)
                        yield event
                else:
                    # non-streaming, or a server that answered a stream request with plain JSON
                    yield from self.parse_json(self._json(response.read()))
        except ProviderFailure as exc:
            failure = exc if not progress.text else _as_cut(exc, progress.text)
        except httpx.InvalidURL as exc:
            raise ConfigError(
                f"provider {self.name}: invalid base_url {_safe_url(url)!r} ({exc})"
            ) from None
        except httpx.HTTPError as exc:
            failure = from_exception(
                self.name,
                exc,
                url=_safe_url(url),
                read_timeout=self.timeouts.read,
                connect_timeout=self.timeouts.connect,
                partial_text=progress.text,
                secrets=self.cfg.secrets,
            )
        if failure is not None:
            raise failure

    # -- helpers for the wire formats -----------------------------------------------------------

    def _json(self, raw: bytes | str) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError:
            text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            snippet = scrub(text[:80], self.cfg.secrets)
            raise MalformedResponse(
                f"{self.name}: malformed response: not JSON: {snippet}", provider=self.name
            ) from None
        if not isinstance(data, dict):
            raise MalformedResponse(
                f"{self.name}: malformed response: expected a JSON object", provider=self.name
            )
        if data.get("error"):
            raise from_stream_error(
                self.name, data["error"], partial_text="", secrets=self.cfg.secrets
            )
        return data

    def event_json(self, event: SSEvent, progress: Progress) -> dict[str, Any]:
        """One event's data as a JSON object; an error object in it raises the classified error."""
        try:
            data = json.loads(event.data)
        except ValueError:
            snippet = scrub(event.data[:80], self.cfg.secrets)
            raise MalformedResponse(
                f"{self.name}: malformed response: invalid JSON in stream event: {snippet!r}",
                provider=self.name,
                partial_text=progress.text,
            ) from None
        if not isinstance(data, dict):
            raise MalformedResponse(
                f"{self.name}: malformed response: stream event is not an object",
                provider=self.name,
                partial_text=progress.text,
            )
        error = data.get("error")
        if error or data.get("object") == "error":
            raise from_stream_error(
                self.name,
                error or {"message": data.get("message", "unknown error")},
                partial_text=progress.text,
                secrets=self.cfg.secrets,
            )
        return data

    def ended_early(self, progress: Progress) -> ProviderFailure:
        """The stream closed cleanly but before its end marker."""
        if progress.text:
            return StreamInterrupted(
                f"{self.name}: the answer was cut off after {len(progress.text)} characters "
                "(stream ended without its end marker); partial answer kept",
                provider=self.name,
                partial_text=progress.text,
            )
        return ConnectionReset(
            f"{self.name}: stream ended before the answer started", provider=self.name
        )


def _as_cut(exc: ProviderFailure, partial_text: str) -> ProviderFailure:
    """Any failure after the first token is a cut: the user already has part of the answer."""
    if isinstance(exc, StreamInterrupted):
        return exc
    return StreamInterrupted(
        f"{exc.provider or 'provider'}: the answer was cut off after {len(partial_text)} "
        f"characters ({exc.summary}); partial answer kept",
        provider=exc.provider,
        status=exc.status,
        partial_text=partial_text,
    )


def _until(stop: threading.Event | None, chunks: Iterator[str]) -> Iterator[str]:
    """``chunks`` until ``stop`` is set (checked as each arrives)."""
    for chunk in chunks:
        if stop is not None and stop.is_set():
            return
        yield chunk


def _is_event_stream(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    return "json" not in ctype  # SSE servers do not all label it text/event-stream


def _read_bounded(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _ERROR_BODY_LIMIT:
            break
    return b"".join(chunks)[:_ERROR_BODY_LIMIT]
