"""Spend budgets against a real store and real `kilo` processes on the loopback provider: a call
that could go over a budget is refused before anything is sent, and spend recorded (or held by a
call in flight) by another process counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from kilocli.store import Store

KEY = "sk-test-DO-NOT-LEAK-4242"
# gpt-5 at $1.25 / $10 per Mtok: with max_tokens 8192 a short prompt's worst case is about $0.0819
PINNED = ["ask", "--model", "gpt-5"]


def _env(server) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY}


def _error_lines(stderr: bytes) -> list[str]:
    return [ln for ln in stderr.decode().splitlines() if ln.startswith("error")]


@pytest.mark.parametrize("key", ["budget_session_usd", "budget_daily_usd", "budget_monthly_usd"])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-2"])
def test_config_set_refuses_a_budget_that_is_no_budget(kilo, key: str, value: str):
    proc = kilo(["config", "set", "--", key, value])
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert key in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("text", ["nan", "-1.0", "0", '"ten"'])
def test_a_bad_budget_in_config_toml_is_one_line_naming_file_and_key(kilo, fake_server, text):
    config = kilo.home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"budget_monthly_usd = {text}\n")
    proc = kilo([*PINNED, "hello there"], env=_env(fake_server))
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1, err
    assert str(config) in err and "budget_monthly_usd" in err
    assert fake_server.requests == []


def test_a_daily_budget_refuses_the_call_that_would_exceed_it(kilo, fake_server):
    assert kilo(["config", "set", "budget_daily_usd", "0.1"]).returncode == 0
    # the first call fits ($0.0819 worst case) and the provider reports what it really cost
    fake_server.script(answer="first answer", cost=0.099)
    first = kilo([*PINNED, "hello there"], env=_env(fake_server))
    assert first.returncode == 0, first.stderr.decode()
    assert len(fake_server.requests) == 1
    # a second process: $0.099 of $0.10 is spent, room for under 256 output tokens of gpt-5
    second = kilo([*PINNED, "hello again"], env=_env(fake_server))
    assert second.returncode == 2
    errors = _error_lines(second.stderr)
    assert len(errors) == 1, second.stderr.decode()
    assert "daily budget" in errors[0] and "$0.099" in errors[0] and "$0.10" in errors[0]
    assert "budget_daily_usd" in errors[0]
    assert len(fake_server.requests) == 1  # nothing reached the provider
    # stats shows the use, on screen and as JSON
    stats = kilo(["stats"])
    assert stats.returncode == 0
    shown = [ln for ln in stats.stdout.decode().splitlines() if ln.strip().startswith("daily")]
    assert shown and "$0.099" in shown[0] and "$0.10" in shown[0] and "99%" in shown[0]
    data = json.loads(kilo(["stats", "--json"]).stdout)
    assert data["budgets"] == [
        {"name": "daily", "setting": "budget_daily_usd", "limit_usd": 0.1, "spent_usd": 0.099}
    ]


def test_a_session_budget_counts_only_that_session(kilo, fake_server):
    assert kilo(["config", "set", "budget_session_usd", "0.1"]).returncode == 0
    fake_server.script(answer="pricey", cost=0.099)
    assert kilo([*PINNED, "hello there"], env=_env(fake_server)).returncode == 0
    # each ask is its own session: the first one's spend does not count against the next
    fake_server.script(answer="fine", cost=0.001)
    proc = kilo([*PINNED, "hello again"], env=_env(fake_server))
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(fake_server.requests) == 2


def test_max_tokens_is_clamped_to_what_the_budget_leaves(kilo, fake_server):
    assert kilo(["config", "set", "budget_monthly_usd", "0.1"]).returncode == 0
    fake_server.script(answer="first", cost=0.09)
    assert kilo([*PINNED, "hello there"], env=_env(fake_server)).returncode == 0
    proc = kilo([*PINNED, "hello again"], env=_env(fake_server))
    assert proc.returncode == 0, proc.stderr.decode()
    sent = fake_server.requests[-1].body
    limit = sent.get("max_completion_tokens") or sent.get("max_tokens")
    # $0.01 left at $10 per Mtok of output: under 1,000 tokens (the input costs a little too)
    assert 256 <= limit < 1000
    assert "monthly budget" in proc.stderr.decode()


def _ask_in_background(kilo, fake_server, prompt: str) -> subprocess.Popen[bytes]:
    """A pinned `kilo ask` in its own process, sharing the test's home, left running."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(_env(fake_server), KILOCLI_HOME=str(kilo.home), HF_HUB_OFFLINE="1")
    return subprocess.Popen(
        [sys.executable, "-m", "kilocli", *PINNED, prompt],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_until_sent(fake_server, proc: subprocess.Popen[bytes]) -> None:
    """Until the fake server has the request (at most 60 s; the process must still run)."""
    deadline = time.monotonic() + 60
    while not fake_server.requests:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)


def test_a_call_in_flight_in_another_process_holds_its_worst_case(kilo, fake_server):
    # $0.084: one call's worst case ($0.0819) fits, and leaves room for under 256 tokens
    assert kilo(["config", "set", "budget_daily_usd", "0.084"]).returncode == 0
    fake_server.script(["stall:1:4"], answer="slow and steady wins")
    slow = _ask_in_background(kilo, fake_server, "tell me a story")
    try:
        _wait_until_sent(fake_server, slow)  # the hold is committed before the request is sent
        refused = kilo([*PINNED, "hello again"], env=_env(fake_server))
        assert slow.poll() is None, "the first call should still be streaming"
        assert refused.returncode == 2
        errors = _error_lines(refused.stderr)
        assert len(errors) == 1 and "daily budget" in errors[0], refused.stderr.decode()
        assert len(fake_server.requests) == 1
        out, err = slow.communicate(timeout=60)
    finally:
        if slow.poll() is None:
            slow.kill()
    assert slow.returncode == 0, err.decode()
    assert out.decode() == "slow and steady wins\n"
    # its real cost (12 in, 7 out: a fraction of a cent) replaced the hold: room again
    after = kilo([*PINNED, "hello at last"], env=_env(fake_server))
    assert after.returncode == 0, after.stderr.decode()
    with Store(kilo.home / "data" / "kilocli.db") as store:
        assert store.spent().day == pytest.approx(2 * (12 * 1.25 + 7 * 10) / 1e6)


def test_a_retry_is_checked_again_against_spend_made_meanwhile(kilo, fake_server):
    """Rate limited, the call waits 2 s; meanwhile another writer records spend; the retry is
    refused before it is sent."""
    assert kilo(["config", "set", "budget_daily_usd", "0.1"]).returncode == 0
    fake_server.script(["429:2"], answer="never sent")
    asking = _ask_in_background(kilo, fake_server, "hello there")
    try:
        _wait_until_sent(fake_server, asking)
        with Store(kilo.home / "data" / "kilocli.db") as store:
            other = store.new_session("ask", "balanced", "elsewhere")
            turn = store.start_turn(other, "elsewhere")
            store.finish_turn(
                turn,
                answer="spent",
                status="ok",
                decision={},
                model="gpt-5",
                provider="openai",
                usage={"input_tokens": 1, "output_tokens": 1},
                estimated_cost_usd=None,
                cost_usd=0.099,
                frontier_cost_usd=None,
                latency_ms=1,
            )
        _, err = asking.communicate(timeout=60)
    finally:
        if asking.poll() is None:
            asking.kill()
    assert asking.returncode == 2, err.decode()
    errors = _error_lines(err)
    assert len(errors) == 1 and "daily budget reached: spent $0.099 of $0.10" in errors[0]
    assert len(fake_server.requests) == 1  # the retry was never sent
