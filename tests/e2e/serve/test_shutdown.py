"""`kilo serve` stops gracefully on SIGTERM: no new connections, in-flight streams finish within
the grace period (or are stopped and recorded as interrupted after it), and nothing is lost."""

from __future__ import annotations

import threading

import httpx
import openai
import pytest
from fakeserver import FakeServer
from serving import ServeProcess, wait_until

WORDS = 30


@pytest.fixture
def upstream():
    with FakeServer() as server:
        server.script(answer=" ".join(f"w{i}" for i in range(WORDS)), chunk_delay=0.1)
        yield server


def _start(tmp_path, shared_cache, upstream, grace: str) -> ServeProcess:
    home = tmp_path / "kilohome"
    home.mkdir()
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    env = {"OPENAI_API_KEY": "sk-test-0123456789", "OPENAI_BASE_URL": upstream.url}
    server = ServeProcess.start(home, env, ("--grace", grace))
    server.home = home
    return server


def _stream_in_thread(server: ServeProcess) -> tuple[threading.Thread, dict, threading.Event]:
    got: dict = {"text": [], "error": None}
    first = threading.Event()

    def run() -> None:
        client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
        try:
            stream = client.chat.completions.create(
                model="kilo-auto",
                messages=[{"role": "user", "content": "write a long story about tests"}],
                stream=True,
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    got["text"].append(chunk.choices[0].delta.content)
                    first.set()
        except Exception as exc:  # the cut case: recorded for the assertions
            got["error"] = exc
        finally:
            first.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, got, first


def _turn(server: ServeProcess):
    from kilocli.store import Store

    with Store(server.home / "data" / "kilocli.db") as store:
        (summary,) = store.list_sessions()
        assert summary.kind == "serve"
        (turn,) = store.session(summary.id).turns
    return turn


def test_sigterm_lets_a_running_stream_finish_and_records_it(tmp_path, shared_cache, upstream):
    server = _start(tmp_path, shared_cache, upstream, "20")
    thread, got, first = _stream_in_thread(server)
    assert first.wait(30)
    server.terminate()
    # no new connections once shutdown began
    assert wait_until(lambda: _refused(server), timeout=5)
    thread.join(30)
    assert got["error"] is None
    assert "".join(got["text"]) == " ".join(f"w{i}" for i in range(WORDS))
    assert server.wait(30) == 0
    assert "1 requests served" in server.stderr
    turn = _turn(server)
    assert turn.status == "ok" and turn.answer == "".join(got["text"])


def test_sigterm_past_the_grace_period_records_the_partial_answer(tmp_path, shared_cache, upstream):
    server = _start(tmp_path, shared_cache, upstream, "0.5")
    thread, got, first = _stream_in_thread(server)
    assert first.wait(30)
    server.terminate()
    thread.join(30)
    assert server.wait(30) == 0
    received = "".join(got["text"])
    assert 0 < len(received) < len(" ".join(f"w{i}" for i in range(WORDS)))
    turn = _turn(server)
    assert turn.status == "interrupted"
    assert turn.answer.startswith("w0") and len(turn.answer) >= len(received) - 5


def _refused(server: ServeProcess) -> bool:
    try:
        httpx.get(f"{server.url}/models", timeout=1)
    except httpx.TransportError:
        return True
    return False
