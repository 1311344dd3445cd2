"""Routing as a micro-batched queue: requests that arrive while a batch is routed go together.

Routing a request is CPU work, mostly the encoder, and an encoder call has a fixed cost besides
its rows. A worker thread takes every request waiting when it is free (up to ``max_batch``, and
at most ``max_texts`` distinct turns), embeds their new turns in ONE encoder call (``prefetch``),
then decides each in arrival order, its turn vectors now coming from the classifier's memo. An
idle worker takes a lone request at once: nothing waits for a batch to fill. kilo serve runs two
workers, so that one decides (Python, holding the GIL) while the other's encoder call runs. The
queue is bounded (``max_pending``) and so is the caller's wait (``ROUTE_WAIT_S`` in
kilocli/serve/turns.py).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

MAX_BATCH = 32  # requests decided after one encoder call: past ~16 rows a batch gains little
MAX_PENDING = 4096  # requests waiting; more is an overload, refused at once (RoutingBusy)
CLOSE_WAIT_S = 5.0


class RoutingBusy(Exception):
    """The queue is full, or closed: the caller answers 503."""


@dataclass
class _Job:
    texts: tuple[str, ...]
    work: Callable[[], Any]
    future: Future[Any]


class RouteBatcher:
    """Runs ``work`` callables on ``workers`` threads, each batch of them one after another,
    preceded by ``prefetch`` of the union of their texts (a failing prefetch only costs the
    speed-up: each job then meets the failure itself)."""

    def __init__(
        self,
        prefetch: Callable[[list[str]], object],
        *,
        max_batch: int = MAX_BATCH,
        max_texts: int = 256,
        max_pending: int = MAX_PENDING,
        workers: int = 1,
    ) -> None:
        if max_batch < 1 or max_texts < 1:
            raise ValueError("max_batch and max_texts must be at least 1")
        self._prefetch = prefetch
        self.max_batch = max_batch
        self.max_texts = max_texts
        self._queue: queue.Queue[_Job | None] = queue.Queue(max_pending)
        self._closed = threading.Event()
        self.batches = 0  # batches run, and the largest (what the tests read)
        self.largest = 0
        self._count_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, name=f"kilo-route-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, texts: Sequence[str], work: Callable[[], T]) -> Future[T]:
        """Queue ``work`` (to be run after ``texts`` are prefetched); its result or exception
        arrives on the future. Cancelling the future before its batch starts skips it."""
        if self._closed.is_set():
            raise RoutingBusy("the server is stopping")
        future: Future[T] = Future()
        try:
            self._queue.put_nowait(_Job(tuple(texts), work, future))
        except queue.Full:
            raise RoutingBusy(f"{self._queue.maxsize} requests are already waiting") from None
        return future

    def close(self, timeout: float = CLOSE_WAIT_S) -> None:
        """Stop: jobs not started are cancelled (nobody waits for them once the server has
        stopped); the batch running finishes, waited for up to ``timeout`` seconds."""
        if self._closed.is_set():
            return
        self._closed.set()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.cancel()
        for _ in self._threads:  # one stop mark per worker
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
        for thread in self._threads:
            thread.join(timeout)

    # -- the worker ----------------------------------------------------------------------------
    def _loop(self) -> None:
        held: deque[_Job] = deque()  # taken off the queue but not yet run (over max_texts)
        stopping = False
        while held or not stopping:
            if not held:
                job = self._queue.get()  # idle: block until a request comes, then go at once
                if job is None:
                    return
                held.append(job)
            while len(held) < self.max_batch and not stopping:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                else:
                    held.append(job)
            self._run(self._next_batch(held))

    def _next_batch(self, held: deque[_Job]) -> list[_Job]:
        """The oldest held jobs, up to max_batch and max_texts distinct texts (the first job
        always goes, however many texts it has)."""
        batch: list[_Job] = []
        texts: set[str] = set()
        while held and len(batch) < self.max_batch:
            more = texts.union(held[0].texts)
            if batch and len(more) > self.max_texts:
                break
            texts = more
            batch.append(held.popleft())
        return batch

    def _run(self, batch: list[_Job]) -> None:
        if self._closed.is_set():
            for job in batch:
                job.future.cancel()
            return
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        with self._count_lock:
            self.batches += 1
            self.largest = max(self.largest, len(live))
        texts = list(dict.fromkeys(t for job in live for t in job.texts))
        if len(texts) <= self.max_texts:
            # a failure here only costs the speed-up: each job embeds its own turns and meets it
            with contextlib.suppress(Exception):
                self._prefetch(texts)
        for job in live:
            try:
                job.future.set_result(job.work())
            except BaseException as exc:  # the waiting request answers it; the worker goes on
                job.future.set_exception(exc)
