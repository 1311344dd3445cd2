"""The three waits inside one call, each against a real loopback server that stalls on purpose.

Connect (a listener whose queue is full), first byte (a server that accepts and never answers,
or answers headers and then only keep-alive comments) and between chunks (a stall mid-answer):
each limit fires within its bound, and the message names the setting that bounded it.
"""

from __future__ import annotations

import threading
import time

import pytest
from fakeserver import BlackHole, read_timeout, silent_after_headers, stall

from kilocli.providers.base import ChatRequest, Message, ProviderConfig, TextDelta, Timeouts
from kilocli.providers.errors import ConnectFailed, ReadTimeout, StreamInterrupted
from kilocli.providers.runner import Attempt, stream_with_fallback

SLACK = 1.0  # scheduling on a busy 2-core machine


def attempt(url: str, kind: str = "openai") -> Attempt:
    cfg = ProviderConfig("lab", kind, url, "LAB_API_KEY", key="sk-waits-0123456789")
    request = ChatRequest(model="m", messages=(Message("user", "hello"),), max_tokens=50)
    return Attempt(model_id="cat-m", provider=cfg, request=request)


def run_until_failure(url: str, limits: Timeouts, kind: str = "openai"):
    """(failure, text streamed before it, seconds taken) for one attempt, no retries."""
    seen: list[str] = []
    started = time.monotonic()
    with pytest.raises((ConnectFailed, ReadTimeout, StreamInterrupted)) as info:
        for _, event in stream_with_fallback(
            [attempt(url, kind)], on_notice=lambda _: None, timeouts=limits, max_retries=0
        ):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    return info.value, "".join(seen), time.monotonic() - started


def test_connect_limit_fires_and_is_named():
    with BlackHole() as hole:
        limits = Timeouts(connect=0.5, first_byte=20, idle=20)
        failure, text, took = run_until_failure(hole.url, limits)
    assert isinstance(failure, ConnectFailed)
    assert "timed out connecting" in failure.message
    assert "within 0.5 s (connect_timeout_s)" in failure.message
    assert text == "" and 0.4 <= took < 0.5 + SLACK


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_first_byte_limit_when_the_server_accepts_and_never_answers(fake_server, kind):
    fake_server.script([read_timeout(20.0)])
    url = fake_server.url if kind == "openai" else fake_server.root
    failure, text, took = run_until_failure(url, Timeouts(connect=5, first_byte=0.8, idle=20), kind)
    assert isinstance(failure, ReadTimeout)
    assert "no answer within 0.8 s of sending the request (first_byte_timeout_s)" in failure.message
    assert text == "" and 0.7 <= took < 0.8 + SLACK


def test_first_byte_limit_is_not_fooled_by_keepalive_comments(fake_server):
    # headers at once, then a comment every 0.2 s: the socket is never silent, the answer is
    fake_server.script([silent_after_headers(20.0, keepalive=True)])
    limits = Timeouts(connect=5, first_byte=1.0, idle=0.5)
    earlier = set(threading.enumerate())  # readers of earlier tests' silent sockets
    failure, text, took = run_until_failure(fake_server.url, limits)
    assert isinstance(failure, ReadTimeout)
    assert "(first_byte_timeout_s)" in failure.message
    assert text == "" and 0.9 <= took < 1.0 + SLACK
    # the abandoned call is hung up at the next keep-alive, not read on for the server's 20 s:
    # a closed connection is what tells a provider to stop generating (and billing)
    deadline = time.monotonic() + 3.0
    while any(t.name == "kilocli-lab" for t in set(threading.enumerate()) - earlier):
        assert time.monotonic() < deadline, "the reader thread is still reading"
        time.sleep(0.05)


def test_first_byte_limit_after_bare_headers(fake_server):
    fake_server.script([silent_after_headers(20.0)])
    failure, _, took = run_until_failure(
        fake_server.url, Timeouts(connect=5, first_byte=0.8, idle=20)
    )
    assert isinstance(failure, ReadTimeout) and "first_byte_timeout_s" in failure.message
    assert 0.7 <= took < 0.8 + SLACK


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_idle_limit_between_chunks_keeps_the_partial_answer(fake_server, kind):
    fake_server.script([stall(after_chunks=2, delay=20.0)], answer="one two three four")
    url = fake_server.url if kind == "openai" else fake_server.root
    failure, text, took = run_until_failure(url, Timeouts(connect=5, first_byte=20, idle=0.8), kind)
    assert isinstance(failure, StreamInterrupted)
    assert text == "one two" and failure.partial_text == "one two"
    assert "cut off after 7 characters (no data for 0.8 s: idle_timeout_s)" in failure.message
    assert 0.7 <= took < 0.8 + SLACK


def test_a_slow_but_steady_answer_is_not_cut(fake_server):
    # each gap is under the idle limit, the whole answer takes longer than it
    fake_server.script(answer="a b c d e f g h", chunk_delay=0.2)
    seen = []
    for _, event in stream_with_fallback(
        [attempt(fake_server.url)],
        on_notice=lambda _: None,
        timeouts=Timeouts(connect=5, first_byte=2, idle=1.0),
    ):
        if isinstance(event, TextDelta):
            seen.append(event.text)
    assert "".join(seen) == "a b c d e f g h"


def test_limits_are_settings_validated_on_load(kilo):
    ok = kilo(["config", "set", "first_byte_timeout_s", "45"])
    assert ok.returncode == 0, ok.stderr.decode()
    shown = kilo(["config", "show"]).stdout.decode()
    assert "first_byte_timeout_s = 45.0" in shown and "idle_timeout_s = 30.0" in shown
    bad = kilo(["config", "set", "idle_timeout_s", "0"])
    assert bad.returncode == 2 and "idle_timeout_s" in bad.stderr.decode()
    config = kilo.home / "config" / "config.toml"
    config.write_text('connect_timeout_s = "fast"\n')
    broken = kilo(["route", "hello"])
    err = broken.stderr.decode()
    assert broken.returncode == 2 and str(config) in err and "connect_timeout_s" in err
    assert "Traceback" not in err


def test_ask_names_the_first_byte_limit_and_does_not_ask_again(kilo, fake_server):
    kilo(["config", "set", "first_byte_timeout_s", "1"])
    fake_server.script([silent_after_headers(30.0, keepalive=True)], answer="late")
    env = {"OPENAI_BASE_URL": fake_server.url, "OPENAI_API_KEY": "sk-waits-0123456789"}
    started = time.monotonic()
    proc = kilo(["ask", "--model", "gpt-5", "explain closures"], env=env)
    took = time.monotonic() - started
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "no answer within 1 s of sending the request (first_byte_timeout_s)" in err
    assert len(fake_server.requests) == 1  # the provider may be billing it: not sent again
    assert took < 15  # process start and routing included; the server would hold it for 30
