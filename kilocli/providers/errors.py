"""Provider failures: one tree, one table that classifies them, and what the runner does with each.

    kilocli.errors.ProviderError          exit 1
    └── ProviderFailure                   .provider .status .retryable .fallback .summary
        ├── RateLimited        429                       retry (Retry-After wins), fall back
        ├── ServerError        5xx, 529, stream error    retry, then fall back
        ├── ConnectFailed      refused, DNS, connect     retry, then fall back
        │                      timeout
        ├── RequestTimeout     408 from the provider     retry, then fall back
        ├── ReadTimeout        request sent, no answer   fall back, no retry (maybe billed)
        │                      within first_byte
        ├── ConnectionReset    closed after the request  retry, saying it may be billed;
        │                      was sent, before a token  then fall back
        ├── QuotaExceeded      402, insufficient_quota   fall back (another may have credit)
        ├── MalformedResponse  bad JSON or SSE           fall back
        ├── AuthError          401, 403                  stop; names the key variable, not the key
        ├── BadRequest         400, 404, 413, 422,       stop; shows the provider's own message
        │                      other 4xx
        └── StreamInterrupted  cut after some tokens     stop (the user saw tokens); .partial_text

``retryable``: the same attempt may be tried again after a pause. ``fallback``: the next candidate
may be tried. ``maybe_billed``: the request reached the provider, which may have started work
(and billing) on it before the failure; the runner never repeats such a request without saying so.
Every message is one line for the user; text that came from the provider is scrubbed
of the key before it is kept, and no exception here holds the request (whose headers carry the key).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kilocli.errors import ProviderError

__all__ = [
    "STATUS_TABLE",
    "AuthError",
    "BadRequest",
    "ConnectFailed",
    "ConnectionReset",
    "MalformedResponse",
    "ProviderError",
    "ProviderFailure",
    "QuotaExceeded",
    "RateLimited",
    "ReadTimeout",
    "RequestTimeout",
    "ServerError",
    "StreamInterrupted",
    "from_exception",
    "from_status",
    "from_stream_error",
    "parse_retry_after",
    "scrub",
]

_MAX_PROVIDER_TEXT = 300  # chars of a provider's error text kept in a one-line message


class ProviderFailure(ProviderError):
    """Base of the classified failures: the fields the runner and the CLI read."""

    retryable: bool = False
    fallback: bool = False
    maybe_billed: bool = False
    label: str = "failed"  # short phrase for notices: "429 rate limited"

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        self.partial_text = partial_text

    @property
    def summary(self) -> str:
        """``503 server error`` / ``cannot connect``: what a notice or the 'tried' list shows."""
        return f"{self.status} {self.label}" if self.status else self.label

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def with_message(self, message: str) -> ProviderFailure:
        """A copy of this error saying more (used to list what was tried)."""
        clone = type(self)(
            message,
            provider=self.provider,
            status=self.status,
            retry_after=self.retry_after,
            partial_text=self.partial_text,
        )
        return clone


class RateLimited(ProviderFailure):
    retryable = True
    fallback = True
    label = "rate limited"


class ServerError(ProviderFailure):
    retryable = True
    fallback = True
    label = "server error"


class ConnectFailed(ProviderFailure):
    retryable = True
    fallback = True
    label = "cannot connect"


class RequestTimeout(ProviderFailure):
    retryable = True
    fallback = True
    label = "timed out at the provider"


class ReadTimeout(ProviderFailure):
    # the provider has the request and may be generating (and billing) it: asking again would
    # pay twice for a model that is stuck, so the runner moves on to the next candidate instead
    fallback = True
    maybe_billed = True
    label = "timed out"


class ConnectionReset(ProviderFailure):
    retryable = True
    fallback = True
    maybe_billed = True
    label = "connection reset"


class QuotaExceeded(ProviderFailure):
    fallback = True
    label = "out of credit"


class MalformedResponse(ProviderFailure):
    fallback = True
    label = "malformed response"


class AuthError(ProviderFailure):
    label = "authentication failed"


class BadRequest(ProviderFailure):
    label = "request rejected"


class StreamInterrupted(ProviderFailure):
    label = "answer cut off"


# ---------------------------------------------------------------------------------------------
# Classification tables


@dataclass(frozen=True)
class StatusRule:
    error: type[ProviderFailure]
    what: str  # the start of the user message after "<provider>: "


# HTTP status -> class and wording. Not listed: 5xx -> ServerError, other 4xx -> BadRequest.
STATUS_TABLE: dict[int, StatusRule] = {
    400: StatusRule(BadRequest, "request rejected (400)"),
    401: StatusRule(AuthError, "authentication failed (401)"),
    402: StatusRule(QuotaExceeded, "out of credit (402)"),
    403: StatusRule(AuthError, "permission denied (403)"),
    404: StatusRule(BadRequest, "not found (404)"),
    408: StatusRule(RequestTimeout, "request timed out at the provider (408)"),
    413: StatusRule(BadRequest, "request too large (413)"),
    422: StatusRule(BadRequest, "request rejected (422)"),
    429: StatusRule(RateLimited, "rate limited (429)"),
    529: StatusRule(ServerError, "overloaded (529)"),
}

# Error codes/types some providers send with a status that would mislead: OpenAI answers 429 for an
# empty balance, where waiting does not help.
_CODE_OVERRIDES: dict[str, StatusRule] = {
    "insufficient_quota": StatusRule(QuotaExceeded, "out of quota"),
}

# Error types inside a stream (Anthropic ``event: error``, OpenAI-style ``{"error": ...}``).
_STREAM_ERROR_TYPES: dict[str, type[ProviderFailure]] = {
    "rate_limit_error": RateLimited,
    "rate_limit_exceeded": RateLimited,
    "overloaded_error": ServerError,
    "api_error": ServerError,
    "server_error": ServerError,
    "invalid_request_error": BadRequest,
    "authentication_error": AuthError,
    "permission_error": AuthError,
    "insufficient_quota": QuotaExceeded,
}


def _rule_for_status(status: int) -> StatusRule:
    if status in STATUS_TABLE:
        return STATUS_TABLE[status]
    if status >= 500:
        return StatusRule(ServerError, f"server error ({status})")
    return StatusRule(BadRequest, f"request rejected ({status})")


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret in ``text`` (keys echoed back by a provider or embedded in a URL)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _one_line(text: str, limit: int = _MAX_PROVIDER_TEXT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def provider_message(body: bytes | str) -> tuple[str, str | None]:
    """(message, code) from an error body in any of the shapes providers use.

    OpenAI/OpenRouter ``{"error": {"message", "code"|"type"}}``, Anthropic
    ``{"type": "error", "error": {"type", "message"}}``, vLLM ``{"object": "error", "message"}``,
    Ollama ``{"error": "text"}``; anything else is shown as text.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return _one_line(text), None
    if not isinstance(data, dict):
        return _one_line(text), None
    err = data.get("error", data)
    if isinstance(err, str):
        return _one_line(err), None
    if not isinstance(err, dict):
        return _one_line(text), None
    message = err.get("message") or data.get("message") or text
    code = err.get("code") if isinstance(err.get("code"), str) else None
    kind = err.get("type") if isinstance(err.get("type"), str) else None
    # OpenRouter puts the upstream's own words in metadata.raw, clearer than its generic message
    meta = err.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("raw"), str) and meta["raw"].strip():
        message = f"{message}: {meta['raw']}"
    return _one_line(str(message)), code or kind


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait: ``retry-after-ms`` (OpenAI) or ``retry-after`` (seconds or HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def from_status(
    provider: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    key_env: str | None,
    secrets: Iterable[str | None] = (),
) -> ProviderFailure:
    """The error for an HTTP error status, with the provider's own words (scrubbed)."""
    secrets = tuple(secrets)
    said, code = provider_message(body)
    said = scrub(said, secrets)
    rule = _CODE_OVERRIDES.get(code or "", _rule_for_status(status))
    message = f"{provider}: {rule.what}"
    if said:
        message += f": {said}"
    if rule.error is AuthError:
        message += f" (check {key_env})" if key_env else " (no key is configured for it)"
    retry_after = parse_retry_after(headers) if rule.error is RateLimited else None
    return rule.error(message, provider=provider, status=status, retry_after=retry_after)


def from_stream_error(
    provider: str,
    error: object,
    *,
    partial_text: str,
    secrets: Iterable[str | None] = (),
) -> ProviderFailure:
    """An error object inside a 200 stream (OpenAI-style, or Anthropic ``event: error``)."""
    said, code = provider_message(json.dumps({"error": error}))
    said = scrub(said, secrets)
    status = None
    if isinstance(error, dict) and isinstance(error.get("code"), int):
        status = error["code"]
    if partial_text:
        return StreamInterrupted(
            f"{provider}: the answer was cut off after {len(partial_text)} characters "
            f"(provider error: {said}); partial answer kept",
            provider=provider,
            status=status,
            partial_text=partial_text,
        )
    if status is not None:
        cls = _rule_for_status(status).error
    else:
        cls = _STREAM_ERROR_TYPES.get(code or "", ServerError)
    return cls(f"{provider}: error in stream: {said}", provider=provider, status=status)


def _reason(exc: BaseException) -> str:
    """A short cause without the request (httpx messages hold the URL, never headers)."""
    text = str(exc).strip()
    return _one_line(text, 160) if text else type(exc).__name__


def from_exception(
    provider: str,
    exc: BaseException,
    *,
    url: str,
    read_timeout: float | None,
    partial_text: str,
    secrets: Iterable[str | None] = (),
    connect_timeout: float | None = None,
) -> ProviderFailure:
    """A transport exception (httpx) as our failure; after the first token, StreamInterrupted."""
    import httpx  # lazy: classification tables must load without the HTTP stack

    reason = scrub(_reason(exc), secrets)
    if partial_text:
        if isinstance(exc, httpx.TimeoutException) and read_timeout:
            cause = f"no data for {read_timeout:g} s"
        elif isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
            cause = "connection closed"
        else:
            cause = reason
        return StreamInterrupted(
            f"{provider}: the answer was cut off after {len(partial_text)} characters ({cause}); "
            "partial answer kept",
            provider=provider,
            partial_text=partial_text,
        )
    if isinstance(exc, httpx.ConnectTimeout):
        within = f" within {connect_timeout:g} s (connect_timeout_s)" if connect_timeout else ""
        return ConnectFailed(
            f"{provider}: timed out connecting to {url}{within}", provider=provider
        )
    if isinstance(exc, (httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol)):
        return ConnectFailed(f"{provider}: cannot connect to {url} ({reason})", provider=provider)
    if isinstance(exc, httpx.TimeoutException):
        waited = f" within {read_timeout:g} s" if read_timeout else ""
        return ReadTimeout(f"{provider}: no response{waited}", provider=provider)
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
        return ConnectionReset(
            f"{provider}: connection closed before the answer started ({reason})",
            provider=provider,
        )
    if isinstance(exc, httpx.DecodingError):
        return MalformedResponse(
            f"{provider}: cannot decode response ({reason})", provider=provider
        )
    return ConnectionReset(f"{provider}: transport error ({reason})", provider=provider)
