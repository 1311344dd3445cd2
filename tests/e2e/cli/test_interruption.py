"""No lost text: the partial answer reaches the store on a clock during a stall, and SIGTERM or
SIGHUP during `kilo ask` records it, marked interrupted, then exits 128 + signal (the same in
`kilo chat`: tests/e2e/chat/test_repl.py).

Real processes against the loopback server, which stalls mid-answer; the SQLite store is read
afterwards as the user's next `kilo sessions show` would.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

KEY = "sk-test-interrupt-0123456789"


def _turns(home) -> list[sqlite3.Row]:
    db = sqlite3.connect(home / "data" / "kilocli.db")
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM turns ORDER BY id").fetchall()
    finally:
        db.close()


def _ask(kilo, fake_server, prompt: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        OPENAI_BASE_URL=fake_server.url,
        OPENAI_API_KEY=KEY,
        KILOCLI_HOME=str(kilo.home),
        HF_HUB_OFFLINE="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "kilocli", "ask", prompt],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_text_before_a_stall_is_in_the_store_without_waiting_for_another_chunk(kilo, fake_server):
    # two chunks at once, then silence: nothing else will arrive to trigger a per-chunk save
    fake_server.script(faults=["stall:2:60"], answer="alpha beta gamma")
    proc = _ask(kilo, fake_server, "explain closures in javascript")
    try:
        assert proc.stdout is not None
        assert proc.stdout.read(10) == b"alpha beta"
        time.sleep(1.5)  # the saver writes at least every 0.5 s
        proc.kill()  # SIGKILL: no handler runs; only what was already saved survives
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    (row,) = _turns(kilo.home)
    assert row["answer"] == "alpha beta"
    assert row["status"] == "streaming"  # killed outright: nobody could mark it


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_ask_killed_mid_stream_keeps_the_partial_answer_marked_interrupted(
    kilo, fake_server, signum
):
    fake_server.script(faults=["stall:1:60"], answer="first second third")
    proc = _ask(kilo, fake_server, "explain closures in javascript")
    assert proc.stdout is not None
    assert proc.stdout.read(5) == b"first"
    started = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10  # not held by the 60 s stall
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err.decode()
    text = err.decode()
    assert f"stopped by {name}" in text and "kept 5 characters" in text
    assert "Traceback" not in text
    (row,) = _turns(kilo.home)
    assert row["status"] == "interrupted"
    assert row["answer"] == "first"
    assert row["error"] == f"stopped by {name}"
