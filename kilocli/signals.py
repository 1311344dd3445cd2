"""SIGTERM and SIGHUP unwind like Ctrl-C, so that a turn is finished in the store, not lost.

A killed `kilo ask` or `kilo chat` (a closed terminal, a CI runner's timeout, `kill PID`) would
otherwise die mid-answer and leave its turn "streaming" with an empty answer. While
``termination_unwinds()`` is active, the first SIGTERM or SIGHUP raises ``Terminated`` in the main
thread; the engine records the partial answer, marked interrupted, and the process exits with
128 + the signal's number (143 for SIGTERM, 129 for SIGHUP), as a shell reports a killed command.
A second signal is not caught: it ends the process at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


class Terminated(BaseException):
    """A termination signal arrived. A BaseException, like KeyboardInterrupt: no ``except
    Exception`` on the way may swallow it. ``outcome`` is set by whoever recorded the turn."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.outcome: Any = None
        super().__init__(f"stopped by {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise_terminated(signum: int, frame: object) -> None:
    for sig in SIGNALS:  # a second signal must not interrupt the recording of the first
        signal.signal(sig, signal.SIG_DFL)
    raise Terminated(signum)


@contextmanager
def termination_unwinds() -> Iterator[None]:
    """Make SIGTERM and SIGHUP raise ``Terminated`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
