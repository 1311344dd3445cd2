"""One served request as a kilo turn: decide, call through the engine on a worker thread, record.

The engine is synchronous (it streams from a provider with retries and fallback and writes the
store as it goes), so each turn runs on a worker thread and hands its events to the event loop
(through a ``LoopInbox``, which wakes the loop once for all the events that arrived meanwhile).
The endpoint waits for the first event before it answers: a failure before any output becomes a
proper HTTP status, and the headers can name the model really used. Every turn is recorded by
the engine exactly as ``kilo ask`` records one, in a session of kind ``serve``; a new
conversation's session is opened on the turn's worker thread, right before its turn is recorded,
so that the routing worker does nothing but route.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kilocli.errors import KiloError, UsageError
from kilocli.providers import errors as perr
from kilocli.providers.translate import ANTHROPIC_PARAMS
from kilocli.routing.cost import count_tokens, format_usd
from kilocli.routing.router import OverCap
from kilocli.serve.batching import RouteBatcher, RoutingBusy
from kilocli.serve.request import ApiError, ServeRequest, resolve_model, text_of
from kilocli.serve.sticky import StickyTable

if TYPE_CHECKING:
    from kilocli.engine import Engine, Router, TurnOutcome
    from kilocli.providers.runner import Attempt
    from kilocli.routing.router import Decision
    from kilocli.store import Store

# A provider failure before any output -> (HTTP status, OpenAI error type)
_FAILURE_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (perr.RateLimited, 429, "rate_limit_error"),
    (perr.QuotaExceeded, 402, "insufficient_quota"),
    (perr.BadRequest, 400, "invalid_request_error"),
    # the upstream refused *our* key: the client's request is fine, the gateway is not
    (perr.AuthError, 502, "upstream_authentication_error"),
    (perr.ReadTimeout, 504, "timeout_error"),
    (TimeoutError, 504, "timeout_error"),
    (perr.ProviderFailure, 502, "upstream_error"),
)
ROUTE_WAIT_S = 60.0  # the longest a request waits for its routing batch before a 503


def failure_to_api(failure: BaseException | None, message: str) -> ApiError:
    """The HTTP answer for a turn that failed before any output."""
    if isinstance(failure, UsageError):
        if failure.message.startswith("no provider configured"):
            return ApiError(503, message, kind="service_unavailable")
        return ApiError(400, message)
    for cls, status, kind in _FAILURE_STATUS:
        if isinstance(failure, cls):
            headers = {}
            retry_after = getattr(failure, "retry_after", None)
            if status == 429 and retry_after is not None:
                headers["retry-after"] = str(max(1, round(retry_after)))
            return ApiError(status, message, kind=kind, headers=headers)
    return ApiError(502, message, kind="upstream_error")


@dataclass
class ServeContext:
    """What every request shares: built once by ``server.run_serve``."""

    router: Router
    engine: Engine
    store: Store
    default_tier: str
    sticky: StickyTable = field(default_factory=StickyTable)
    # routing is CPU work (the encoder): one worker, requests batched (see batching.py);
    # calls wait on the network: many threads
    routing: RouteBatcher = field(init=False)
    turn_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(512, thread_name_prefix="kilo-turn")
    )
    live: set[LiveTurn] = field(default_factory=set)
    live_lock: threading.Lock = field(default_factory=threading.Lock)
    served: int = 0
    _inbox: LoopInbox | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        from kilocli.routing.classifier.classify import PREFETCH_LIMIT

        self.routing = RouteBatcher(
            lambda texts: self.router.classifier.prefetch(texts),
            max_texts=PREFETCH_LIMIT,
            workers=2,
        )

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for cfg in self.engine.providers() for s in cfg.secrets)

    def scrub(self, text: str) -> str:
        return perr.scrub(text, self.secrets())

    def inbox(self) -> LoopInbox:
        """The inbox of the running event loop (one per server; a new loop gets a new one)."""
        loop = asyncio.get_running_loop()
        if self._inbox is None or self._inbox.loop is not loop:
            self._inbox = LoopInbox(loop)
        return self._inbox


class LoopInbox:
    """Items from worker threads to asyncio queues on one event loop, handed over in batches.

    ``call_soon_threadsafe`` wakes the loop through its self-pipe each time it is called; with
    50 streams of 50 events a second that is thousands of wakeups (and GIL handoffs) a second.
    Here a thread only appends, and schedules a wakeup when none is pending: the loop then moves
    every item that arrived meanwhile to its queue in one go. Items of one producer keep their
    order (one FIFO for all)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._items: deque[tuple[asyncio.Queue[Any], Any]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self.wakeups = 0  # loop wakeups so far, and items moved (what the tests read)
        self.moved = 0

    def put(self, target: asyncio.Queue[Any], item: Any) -> None:
        """Hand ``item`` to ``target`` on the loop; from any thread. Dropped when the loop is
        closed (the server is stopping; the turn records itself anyway)."""
        with self._lock:
            self._items.append((target, item))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is gone
            with self._lock:
                self._scheduled = False

    def _drain(self) -> None:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._scheduled = False
        self.wakeups += 1
        self.moved += len(items)
        for target, item in items:
            target.put_nowait(item)


@dataclass(frozen=True)
class Prepared:
    request: ServeRequest
    decision: Decision
    session_id: str | None  # the conversation's session; None: a new one, opened by LiveTurn
    pinned: bool
    route_ms: float = 0.0  # from arrival to decision: the wait for the routing worker included

    @property
    def title(self) -> str:
        """A new session's title: the conversation's first user turn."""
        return self.request.user_turns[0] if self.request.user_turns else self.request.prompt


def prepare(ctx: ServeContext, request: ServeRequest) -> Prepared:
    """Route the request (sticky to its conversation); a known conversation keeps its session.
    Nothing is written here: the store is the turn's business (see LiveTurn)."""
    tier, pin = resolve_model(request.model, ctx.default_tier, list(ctx.router.catalogue.models))
    conversation = ctx.sticky.find(request.messages)
    input_tokens = sum(count_tokens(text_of(m)) for m in request.messages)
    try:
        decision = ctx.router.decide(
            request.user_turns or [request.prompt],
            tier=tier,
            input_tokens=input_tokens,
            pin=pin,
            current_model=conversation.model if conversation else None,
            cached_input_tokens=conversation.prefix_tokens if conversation else 0,
        )
    except OverCap:
        cap = format_usd(ctx.engine.settings.max_cost_usd)
        raise ApiError(
            400,
            f"pinned model {pin}: its estimate is over the cost cap (max_cost_usd {cap}); "
            "use kilo-auto or a cheaper model",
            param="model",
            code="over_cost_cap",
        ) from None
    except KiloError as exc:
        raise ApiError(400, exc.message, param="model" if pin else None) from None
    session_id = conversation.session_id if conversation is not None else None
    return Prepared(request, decision, session_id, pin is not None)


class LiveTurn:
    """A turn running on a worker thread; its events arrive on ``next()``, the outcome last."""

    def __init__(self, ctx: ServeContext, prepared: Prepared) -> None:
        self.ctx = ctx
        self.prepared = prepared
        # known before the first event arrives (the worker opens a new session first)
        self.session_id = prepared.session_id or ""
        self.cancel = threading.Event()
        self._inbox = ctx.inbox()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        with ctx.live_lock:
            ctx.live.add(self)
        self.future: Future[None] = ctx.turn_pool.submit(self._run)

    def _push(self, item: Any) -> None:
        self._inbox.put(self._queue, item)

    def _run(self) -> None:
        request = self.prepared.request
        try:
            if not self.session_id:
                self.session_id = self.ctx.store.new_session(
                    "serve", self.prepared.decision.tier, self.prepared.title
                )
            outcome = self.ctx.engine.run_turn(
                self.session_id,
                [],
                request.prompt,
                self.prepared.decision,
                cancel=self.cancel,
                allow_fallback=not self.prepared.pinned,
                stream=True,  # always stream upstream: a whole answer is gathered here
                raw_messages=request.messages,
                params=request.params,
                max_tokens=request.max_tokens,
                on_event=lambda attempt, event: self._push((attempt, event)),
            )
            if outcome.status == "ok":
                self.ctx.sticky.remember(
                    request.messages, outcome.answer, self.session_id, outcome.model
                )
            self._push(outcome)
        except BaseException as exc:  # never lose the waiting request: it answers 500
            self._push(exc)
        finally:
            with self.ctx.live_lock:
                self.ctx.live.discard(self)
                self.ctx.served += 1

    async def next(self) -> Any:
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise ApiError(500, f"internal error: {type(item).__name__}", kind="server_error")
        return item

    async def items(self, first: Any) -> AsyncIterator[Any]:
        """``first`` then every later item, up to and including the outcome."""
        item = first
        while True:
            yield item
            if not isinstance(item, tuple):
                return
            item = await self.next()

    async def batches(self, first: Any) -> AsyncIterator[list[Any]]:
        """Like ``items``, but each wait yields every item already there with the one awaited:
        a stream writes them in one piece when it is behind (fewer writes, same bytes)."""
        batch = [first]
        while True:
            while is_event(batch[-1]) and not self._queue.empty():
                item = self._queue.get_nowait()
                if isinstance(item, BaseException):
                    yield batch
                    raise ApiError(
                        500, f"internal error: {type(item).__name__}", kind="server_error"
                    )
                batch.append(item)
            yield batch
            if not is_event(batch[-1]):
                return
            batch = [await self.next()]


def is_event(item: Any) -> bool:
    return isinstance(item, tuple)


def is_outcome(item: Any) -> bool:
    return not isinstance(item, tuple)


def dropped_params(request: ServeRequest, attempt: Attempt) -> list[str]:
    """Parameters the chosen upstream cannot take (said in x-kilo-dropped-params)."""
    dropped = list(request.dropped)
    if attempt.provider.kind == "anthropic":
        dropped += [name for name in request.params if name not in ANTHROPIC_PARAMS]
    return sorted(set(dropped))


def route_headers(turn: LiveTurn, attempt: Attempt | None) -> dict[str, str]:
    prepared = turn.prepared
    d = prepared.decision
    cost = d.estimated_cost_usd
    headers = {
        "x-kilo-model": attempt.model_id if attempt else d.model,
        "x-kilo-provider": attempt.provider.name if attempt else (d.provider or ""),
        "x-kilo-tier": d.tier,
        "x-kilo-task": d.task,
        "x-kilo-difficulty": d.difficulty,
        "x-kilo-estimated-cost-usd": "unpriced" if cost is None else f"{cost:.6f}",
        "x-kilo-session": turn.session_id,
        "x-kilo-sticky": "true" if d.sticky else "false",
        "server-timing": f"route;dur={prepared.route_ms:.1f}",
    }
    if attempt is not None and (dropped := dropped_params(prepared.request, attempt)):
        headers["x-kilo-dropped-params"] = ",".join(dropped)
    return {k: v.encode("ascii", "replace").decode() for k, v in headers.items()}


async def decide(ctx: ServeContext, request: ServeRequest) -> Prepared:
    """``prepare`` on the routing worker, batched with the requests waiting beside it."""
    busy = ApiError(
        503, "routing is overloaded: retry shortly", kind="service_unavailable", code="busy"
    )
    busy.headers["retry-after"] = "1"
    arrived = time.perf_counter()
    try:
        future = ctx.routing.submit(
            request.user_turns or [request.prompt], functools.partial(prepare, ctx, request)
        )
    except RoutingBusy:
        raise busy from None
    try:
        prepared = await asyncio.wait_for(asyncio.wrap_future(future), ROUTE_WAIT_S)
    except TimeoutError:
        raise busy from None
    return replace(prepared, route_ms=(time.perf_counter() - arrived) * 1000)


async def start(ctx: ServeContext, request: ServeRequest) -> tuple[LiveTurn, Any]:
    """Decide, start the call, and wait for its first item; a failure before any output raises
    the ApiError for it (the turn is recorded as failed, as ``kilo ask`` records one)."""
    prepared = await decide(ctx, request)
    turn = LiveTurn(ctx, prepared)
    first = await turn.next()
    if is_outcome(first) and first.status == "error":
        raise failure_to_api(first.failure, ctx.scrub(first.error or "the call failed"))
    return turn, first


def outcome_usage(outcome: TurnOutcome) -> tuple[int, int, int, int, float | None]:
    return (
        outcome.input_tokens,
        outcome.output_tokens,
        outcome.cached_input_tokens,
        outcome.reasoning_tokens,
        outcome.cost_usd,
    )
