"""The retry and fallback loop shared by ``kilo ask`` and ``kilo chat``.

For each attempt in order: stream it; a retryable failure before the first token is tried again
after a capped exponential pause with full jitter (the provider's Retry-After wins, up to a cap: a
longer wait skips straight to the next attempt), then the next attempt takes over. Auth and
bad-request failures stop at once; a stream cut after tokens raises ``StreamInterrupted`` with the
partial text and is not retried, since the user has already seen part of an answer. Each retry and
fallback is announced through ``on_notice``, and a failure after the request reached the provider
(which may bill it) says so: a silent provider is not asked again, a reset connection is, once
per retry, with that said.

Three waits are bounded separately (``Timeouts``): connecting (httpx), the first piece of the answer
after the request is sent, and the silence between two pieces. The last two are watched here, on
the consumer's side of a reader thread, so that keep-alive comments (OpenRouter sends them while
an upstream is stuck) do not count as an answer and each limit is named when it fires.
Setting ``cancel`` ends the stream promptly and quietly (no exception: the
caller set it and already holds what streamed), even during a pause or a silent read.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kilocli.providers.base import (
    ChatRequest,
    Event,
    Provider,
    ProviderConfig,
    TextDelta,
    Timeouts,
    ToolCallDelta,
)
from kilocli.providers.errors import ProviderFailure, ReadTimeout, StreamInterrupted
from kilocli.providers.registry import make_provider, provider_model_id

if TYPE_CHECKING:
    import httpx

    from kilocli.routing.pools import Catalogue, ModelSpec

__all__ = ["Attempt", "ProviderCache", "plan_attempts", "prewarm", "stream_with_fallback"]

_POLL = 0.05  # seconds between cancel checks while waiting for the next event


@dataclass
class Attempt:
    model_id: str  # catalogue id
    provider: ProviderConfig
    request: ChatRequest  # request.model is the provider's own id

    @property
    def label(self) -> str:
        return f"{self.model_id} via {self.provider.name}"


def plan_attempts(
    model_ids: Sequence[str],
    catalogue: Catalogue | Mapping[str, ModelSpec],
    providers: Sequence[ProviderConfig],
    request: ChatRequest,
) -> list[Attempt]:
    """One attempt per (model, provider that serves it): a model's other providers come before
    the next model. ``max_tokens`` is capped at the model's own output limit."""
    models = catalogue.models if hasattr(catalogue, "models") else catalogue
    attempts: list[Attempt] = []
    for model_id in model_ids:
        spec = models.get(model_id)
        if spec is None:
            continue
        max_tokens = min(request.max_tokens, spec.max_output_tokens or request.max_tokens)
        for cfg in providers:
            wire_id = provider_model_id(spec, cfg)
            if wire_id:
                attempts.append(
                    Attempt(model_id, cfg, replace(request, model=wire_id, max_tokens=max_tokens))
                )
    return attempts


class ProviderCache:
    """Provider objects kept across turns, so a chat reuses its kept-alive connections."""

    def __init__(
        self, *, transport: httpx.BaseTransport | None = None, timeouts: Timeouts | None = None
    ) -> None:
        self._transport = transport
        self._timeouts = timeouts
        self._providers: dict[ProviderConfig, Provider] = {}
        self._lock = threading.Lock()  # kilo serve calls it from many threads

    def __call__(self, cfg: ProviderConfig) -> Provider:
        with self._lock:
            if cfg not in self._providers:
                self._providers[cfg] = make_provider(
                    cfg, transport=self._transport, timeouts=self._timeouts
                )
            return self._providers[cfg]

    def close(self) -> None:
        for provider in self._providers.values():
            close = getattr(provider, "close", None)
            if close is not None:
                close()
        self._providers.clear()


def prewarm() -> None:
    """Import the HTTP stack and load the CA bundle (about 0.3 s together). Run it on a thread
    while the router decides, so that the call itself starts at once."""
    from kilocli.providers._http import shared_ssl_context

    shared_ssl_context()


def full_jitter(ceiling: float) -> float:
    """A uniformly random pause up to ``ceiling``: many clients that failed together (a provider
    outage) do not all come back at the same instant ("full jitter")."""
    return random.uniform(0.0, ceiling)


def backoff_delay(
    failure: ProviderFailure,
    retry: int,
    *,
    base: float,
    cap: float,
    retry_after_cap: float,
    jitter: Callable[[float], float] = full_jitter,
) -> float | None:
    """Seconds before retry number ``retry`` (0-based); None: the provider asks for longer than
    we are willing to wait, so move on instead. Retry-After is honoured as given (no jitter: the
    provider chose the time); otherwise a jittered pause under a capped exponential ceiling."""
    if failure.retry_after is not None:
        return failure.retry_after if failure.retry_after <= retry_after_cap else None
    return min(cap, max(0.0, jitter(min(cap, base * (2**retry)))))


_BILLED = "the provider may bill the request that failed"


def stream_with_fallback(
    attempts: Sequence[Attempt],
    *,
    on_notice: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    max_retries: int = 2,
    backoff_base: float = 0.5,
    backoff_cap: float = 8.0,
    retry_after_cap: float = 20.0,
    transport: httpx.BaseTransport | None = None,
    cancel: threading.Event | None = None,
    timeouts: Timeouts | None = None,
    providers: Callable[[ProviderConfig], Provider] | None = None,
    before_call: Callable[[Attempt], Attempt] | None = None,
    jitter: Callable[[float], float] = full_jitter,
) -> Iterator[tuple[Attempt, Event]]:
    """Events of the first attempt that answers, each with the attempt that produced it.

    Raises the failure that stopped it: ``AuthError``/``BadRequest`` at once, ``StreamInterrupted``
    after tokens, or, when every attempt is used up, the last failure with a message listing what
    was tried. Returns early, without ``Finished``, when ``cancel`` is set. ``providers`` builds
    (or reuses: see ``ProviderCache``) the provider for a config; by default one per call, closed
    at the end. ``before_call`` runs before every request, retries included, and returns the
    attempt to send (e.g. with a clamped ``max_tokens``) or raises to stop (a spend budget).
    """
    if not attempts:
        raise ValueError("stream_with_fallback needs at least one attempt")
    own_cache = None if providers else ProviderCache(transport=transport, timeouts=timeouts)
    get_provider = providers or own_cache
    limits = timeouts or Timeouts()
    assert get_provider is not None
    try:
        tried: list[str] = []
        last: ProviderFailure | None = None
        for index, attempt in enumerate(attempts):
            provider = get_provider(attempt.provider)
            failures: list[ProviderFailure] = []
            for retry in range(max_retries + 1):
                if _cancelled(cancel):
                    return
                partial: list[str] = []
                tool_pieces = 0  # tool-call deltas passed on: output as much as text is
                failure: ProviderFailure | None = None
                call = before_call(attempt) if before_call is not None else attempt
                try:
                    for event in _events(provider, call.request, cancel, limits):
                        if isinstance(event, TextDelta):
                            partial.append(event.text)
                        elif isinstance(event, ToolCallDelta):
                            tool_pieces += 1
                        yield call, event
                    return
                except ProviderFailure as exc:
                    failure = exc
                    if partial and not failure.partial_text:
                        failure.partial_text = "".join(partial)
                # once output was passed on, a retry or fallback would repeat it: stop here
                if (partial or tool_pieces) and not isinstance(failure, StreamInterrupted):
                    shown = f"{len(''.join(partial))} characters"
                    if tool_pieces:
                        shown += f" and {tool_pieces} tool-call pieces"
                    failure = StreamInterrupted(
                        f"{failure.message} (after {shown}); partial answer kept",
                        provider=failure.provider,
                        status=failure.status,
                        partial_text="".join(partial),
                    )
                failures.append(failure)
                last = failure
                if isinstance(failure, StreamInterrupted) or not (
                    failure.retryable or failure.fallback
                ):
                    raise failure
                if not failure.retryable or retry == max_retries:
                    break
                delay = backoff_delay(
                    failure,
                    retry,
                    base=backoff_base,
                    cap=backoff_cap,
                    retry_after_cap=retry_after_cap,
                    jitter=jitter,
                )
                if delay is None:
                    on_notice(
                        f"{attempt.provider.name}: {failure.summary}; asked to wait "
                        f"{failure.retry_after:.0f} s, more than {retry_after_cap:g} s"
                    )
                    break
                billed = f" ({_BILLED} too)" if failure.maybe_billed else ""
                on_notice(
                    f"{attempt.provider.name}: {failure.summary}; retrying in {delay:.1f} s{billed}"
                )
                if not _pause(delay, sleep, cancel):
                    return
            tried.append(_tried(attempt, failures))
            if index + 1 < len(attempts):
                following = attempts[index + 1]
                unretried = failures[-1].maybe_billed and not failures[-1].retryable
                why = f" (not retried: {_BILLED})" if unretried else ""
                on_notice(
                    f"falling back to {following.label}: {attempt.provider.name} "
                    f"{failures[-1].summary}{why}"
                )
        assert last is not None
        raise last.with_message(f"{last.message} (tried {'; '.join(tried)})")
    finally:
        if own_cache is not None:
            own_cache.close()


def _tried(attempt: Attempt, failures: list[ProviderFailure]) -> str:
    summary = failures[-1].summary
    count = f"{len(failures)}× " if len(failures) > 1 else ""
    return f"{attempt.label}: {count}{summary}"


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _pause(delay: float, sleep: Callable[[float], None], cancel: threading.Event | None) -> bool:
    """Wait ``delay`` seconds; False when cancelled meanwhile (a real sleep wakes at once)."""
    if cancel is not None and sleep is time.sleep:
        return not cancel.wait(delay)
    sleep(delay)
    return not _cancelled(cancel)


def _events(
    provider: Provider,
    request: ChatRequest,
    cancel: threading.Event | None,
    limits: Timeouts,
) -> Iterator[Event]:
    """The provider's events, read on a worker thread so that neither a silent socket nor a
    stream of keep-alives can hold the caller past a limit or a cancel: the first piece of the
    answer must come within ``limits.first_byte`` of the request, each next one within
    ``limits.idle`` (the worker itself ends at its next chunk or at httpx's read timeout). Ends
    quietly when cancelled."""
    inbox: queue.Queue[tuple[str, object]] = queue.Queue()
    stop = threading.Event()
    cancel = cancel if cancel is not None else threading.Event()

    def pump() -> None:
        stream = provider.stream(request, stop)
        try:
            for event in stream:
                if stop.is_set():
                    break
                inbox.put(("event", event))
            else:
                inbox.put(("end", None))
        except BaseException as exc:  # handed to the caller's thread and raised there
            inbox.put(("error", exc))
        finally:
            stream.close()  # type: ignore[attr-defined]

    worker = threading.Thread(target=pump, name=f"kilocli-{provider.name}", daemon=True)
    worker.start()
    chars = 0
    deadline = time.monotonic() + limits.first_byte
    try:
        while not cancel.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                raise _silence(provider.name, chars, limits)
            try:
                kind, item = inbox.get(timeout=min(_POLL, left))
            except queue.Empty:
                continue
            if cancel.is_set() or kind == "end":
                return
            if kind == "error":
                raise item  # type: ignore[misc]
            if isinstance(item, TextDelta):
                chars += len(item.text)
            if chars:
                deadline = time.monotonic() + limits.idle
            yield item  # type: ignore[misc]
    finally:
        stop.set()


def _silence(provider: str, chars: int, limits: Timeouts) -> ProviderFailure:
    """The failure for a limit that ran out, naming the limit and its setting."""
    if chars:
        return StreamInterrupted(
            f"{provider}: the answer was cut off after {chars} characters (no data for "
            f"{limits.idle:g} s: idle_timeout_s); partial answer kept",
            provider=provider,
        )
    return ReadTimeout(
        f"{provider}: no answer within {limits.first_byte:g} s of sending the request "
        "(first_byte_timeout_s)",
        provider=provider,
    )
