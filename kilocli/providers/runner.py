"""The retry and fallback loop shared by ``kilo ask`` and ``kilo chat``.

For each attempt in order: stream it; a retryable failure before the first token is tried again
after a capped exponential pause (the provider's Retry-After wins, up to a cap: a longer wait skips
straight to the next attempt), then the next attempt takes over. Auth and bad-request failures stop
at once; a stream cut after tokens raises ``StreamInterrupted`` with the partial text and is not
retried, since the user has already seen part of an answer. Each retry and fallback is announced
through ``on_notice``. Setting ``cancel`` ends the stream promptly and quietly (no exception: the
caller set it and already holds what streamed), even during a pause or a silent read.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kilocli.providers.base import ChatRequest, Event, Provider, ProviderConfig, TextDelta, Timeouts
from kilocli.providers.errors import ProviderFailure, StreamInterrupted
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


def backoff_delay(
    failure: ProviderFailure, retry: int, *, base: float, cap: float, retry_after_cap: float
) -> float | None:
    """Seconds before retry number ``retry`` (0-based); None: the provider asks for longer than
    we are willing to wait, so move on instead."""
    if failure.retry_after is not None:
        return failure.retry_after if failure.retry_after <= retry_after_cap else None
    return min(cap, base * (2**retry))


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
                failure: ProviderFailure | None = None
                call = before_call(attempt) if before_call is not None else attempt
                try:
                    for event in _events(provider, call.request, cancel):
                        if isinstance(event, TextDelta):
                            partial.append(event.text)
                        yield call, event
                    return
                except ProviderFailure as exc:
                    failure = exc
                if partial and not isinstance(failure, StreamInterrupted):
                    failure = StreamInterrupted(
                        f"{failure.message} (after {len(''.join(partial))} characters); "
                        "partial answer kept",
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
                )
                if delay is None:
                    on_notice(
                        f"{attempt.provider.name}: {failure.summary}; asked to wait "
                        f"{failure.retry_after:.0f} s, more than {retry_after_cap:g} s"
                    )
                    break
                on_notice(f"{attempt.provider.name}: {failure.summary}; retrying in {delay:.1f} s")
                if not _pause(delay, sleep, cancel):
                    return
            tried.append(_tried(attempt, failures))
            if index + 1 < len(attempts):
                following = attempts[index + 1]
                on_notice(
                    f"falling back to {following.label}: {attempt.provider.name} "
                    f"{failures[-1].summary}"
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
    provider: Provider, request: ChatRequest, cancel: threading.Event | None
) -> Iterator[Event]:
    """The provider's events; with ``cancel``, read on a worker thread so that a silent socket
    cannot hold the caller past the cancel (the worker drops the stream at its next chunk or at
    the read timeout). Ends quietly when cancelled."""
    if cancel is None:
        yield from provider.stream(request)
        return
    inbox: queue.Queue[tuple[str, object]] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        stream = provider.stream(request)
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
    try:
        while not cancel.is_set():
            try:
                kind, item = inbox.get(timeout=_POLL)
            except queue.Empty:
                continue
            if cancel.is_set() or kind == "end":
                return
            if kind == "error":
                raise item  # type: ignore[misc]
            yield item  # type: ignore[misc]
    finally:
        stop.set()
