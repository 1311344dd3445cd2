"""The live route preview: a debounced, latest-wins worker thread, so typing never waits on routing.

The UI thread only calls `submit()` (a lock, an assignment, a notify). The worker waits for a pause
of `debounce` seconds after the last submit, computes, publishes the result and asks the UI to
redraw; submits that arrive while it computes collapse into one more computation for the newest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Preview(Generic[T]):
    key: Hashable  # what was computed (text + state version)
    value: T | None
    error: str | None
    submitted_at: float  # clock time of the submit that this answers
    done_at: float

    @property
    def latency(self) -> float:
        """Seconds from the last keystroke to the result (includes the debounce pause)."""
        return self.done_at - self.submitted_at


class PreviewWorker(Generic[T]):
    def __init__(
        self,
        compute: Callable[[Hashable], T],
        on_update: Callable[[], None],
        *,
        debounce: float = 0.15,
        clock: Callable[[], float] = time.monotonic,
        name: str = "kilo-preview",
    ) -> None:
        self._compute = compute
        self._on_update = on_update
        self._debounce = debounce
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: Hashable | None = None
        self._pending_at = 0.0
        self._has_pending = False
        self._closed = False
        self.latest: Preview[T] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, *, force: bool = False) -> None:
        """Ask for a preview of ``key``; cheap enough to call on every keystroke.

        ``force`` recomputes even when ``key`` is the latest one (what it depends on changed).
        """
        with self._cond:
            latest = self.latest
            if not force and latest is not None and latest.key == key and not self._has_pending:
                return
            self._pending = key
            self._pending_at = self._clock()
            self._has_pending = True
            self._cond.notify()

    def close(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _next(self) -> tuple[Hashable, float] | None:
        """Block until a key has been left alone for the debounce pause; None when closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if not self._has_pending:
                    self._cond.wait()
                    continue
                wait = self._pending_at + self._debounce - self._clock()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._has_pending = False
                return self._pending, self._pending_at

    def _run(self) -> None:
        while (job := self._next()) is not None:
            key, submitted = job
            value: T | None = None
            error: str | None = None
            try:
                value = self._compute(key)
            except Exception as exc:  # a preview must never take the REPL down
                error = str(exc) or type(exc).__name__
            # publish even if newer text is pending: a slightly old route beats a blank toolbar,
            # and the pending key is computed next anyway
            with self._cond:
                self.latest = Preview(key, value, error, submitted, self._clock())
            self._on_update()
