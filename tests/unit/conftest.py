"""The fast folder stays fast: a test here that starts a process fails at once, saying where it
belongs (tests/e2e holds the tests that run `kilo`, a pty, the encoder or other processes)."""

from __future__ import annotations

import subprocess

import pytest


@pytest.fixture(autouse=True)
def _no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tests/unit starts no process: this test belongs in tests/e2e")

    # every subprocess call (run, Popen, check_output, ...) starts its child here
    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
