"""The preview worker: debounced, latest-wins, off the calling thread, never raising."""

from __future__ import annotations

import threading
import time

from kilocli.chat.toolbar import PreviewWorker


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.keys: list[object] = []
        self.threads: set[str] = set()
        self.delay = delay
        self.updated = threading.Event()

    def compute(self, key: object) -> str:
        self.threads.add(threading.current_thread().name)
        self.keys.append(key)
        time.sleep(self.delay)
        if key == "boom":
            raise RuntimeError("no route")
        return f"route:{key}"

    def on_update(self) -> None:
        self.updated.set()


def _wait_for(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_burst_of_keystrokes_computes_once_after_the_pause():
    rec = Recorder()
    worker = PreviewWorker(rec.compute, rec.on_update, debounce=0.1)
    try:
        for text in ("f", "fi", "fix", "fix the", "fix the bug"):
            worker.submit(text)
            time.sleep(0.01)
        assert rec.updated.wait(2.0)
        assert rec.keys == ["fix the bug"]
        assert worker.latest is not None
        assert worker.latest.value == "route:fix the bug"
        assert worker.latest.latency >= 0.1
        assert rec.threads == {"kilo-preview"}
    finally:
        worker.close()


def test_latest_wins_while_a_computation_runs():
    rec = Recorder(delay=0.2)
    worker = PreviewWorker(rec.compute, rec.on_update, debounce=0.02)
    try:
        worker.submit("a")
        _wait_for(lambda: rec.keys == ["a"])
        worker.submit("ab")
        worker.submit("abc")  # replaces "ab" before the worker is free
        _wait_for(lambda: worker.latest is not None and worker.latest.key == "abc")
        assert rec.keys == ["a", "abc"]
    finally:
        worker.close()


def test_submit_returns_at_once_even_when_computing_is_slow():
    rec = Recorder(delay=0.3)
    worker = PreviewWorker(rec.compute, rec.on_update, debounce=0.0)
    try:
        worker.submit("x")
        _wait_for(lambda: rec.keys == ["x"])
        started = time.perf_counter()
        for i in range(200):
            worker.submit(f"x{i}")
        assert time.perf_counter() - started < 0.05
    finally:
        worker.close()


def test_a_failing_computation_is_published_as_an_error():
    rec = Recorder()
    worker = PreviewWorker(rec.compute, rec.on_update, debounce=0.0)
    try:
        worker.submit("boom")
        assert rec.updated.wait(2.0)
        assert worker.latest is not None
        assert worker.latest.value is None
        assert worker.latest.error == "no route"
        rec.updated.clear()
        worker.submit("ok")
        assert rec.updated.wait(2.0)
        assert worker.latest.value == "route:ok"
    finally:
        worker.close()


def test_the_same_key_is_not_recomputed():
    rec = Recorder()
    worker = PreviewWorker(rec.compute, rec.on_update, debounce=0.0)
    try:
        worker.submit(("t", 1))
        _wait_for(lambda: worker.latest is not None)
        worker.submit(("t", 1))
        time.sleep(0.05)
        assert rec.keys == [("t", 1)]
        worker.submit(("t", 2))  # same text, new state version: recompute
        _wait_for(lambda: worker.latest is not None and worker.latest.key == ("t", 2))
        assert rec.keys == [("t", 1), ("t", 2)]
    finally:
        worker.close()


def test_force_recomputes_the_latest_key():
    """When what a preview depends on changes (routing loaded), the same text is redone."""
    rec = Recorder()
    worker = PreviewWorker(rec.compute, rec.on_update, debounce=0.0)
    try:
        worker.submit("t")
        _wait_for(lambda: worker.latest is not None)
        worker.submit("t", force=True)
        _wait_for(lambda: rec.keys == ["t", "t"])
    finally:
        worker.close()
