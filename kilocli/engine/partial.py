"""The partial answer of a streaming turn, saved to the store on a clock."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kilocli.store import Store

SAVE_PARTIAL_EVERY_S = 0.5  # the partial answer in the store is never older than this


class PartialSaver:
    """Writes the streamed text so far to the store every ``interval`` seconds while it grows,
    on its own thread, so a stall does not hold back text that already arrived."""

    def __init__(self, store: Store, turn_id: int, chunks: list[str], interval: float) -> None:
        self._store = store
        self._turn_id = turn_id
        self._chunks = chunks  # appended to by the streaming thread; read here by length
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kilocli-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait, so that no save can land after the turn's final write."""
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        saved = 0
        while not self._done.wait(self._interval):
            count = len(self._chunks)
            if count == saved:
                continue
            try:
                self._store.save_partial(self._turn_id, "".join(self._chunks[:count]))
                saved = count
            except Exception:  # a busy or full disk: the final write reports it
                continue
