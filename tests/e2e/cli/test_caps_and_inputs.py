"""Money limits that hold and inputs that cannot hang or flood `kilo ask`: a real process, real
files and FIFOs, the loopback provider."""

from __future__ import annotations

import os
import time

import pytest

KEY = "sk-test-DO-NOT-LEAK-4242"


def _env(server) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY}


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_max_cost_must_be_a_positive_finite_number(kilo, fake_server, value: str):
    proc = kilo(["ask", "--max-cost", value, "hello there"], env=_env(fake_server))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "--max-cost" in err and "positive, finite" in err and len(err.strip().splitlines()) == 1
    assert fake_server.requests == []


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5"])
def test_config_refuses_a_cap_that_is_no_cap(kilo, value: str):
    proc = kilo(["config", "set", "--", "max_cost_usd", value])
    assert proc.returncode == 2
    assert "max_cost_usd" in proc.stderr.decode()


def test_a_pinned_model_over_the_cap_is_refused_unless_forced(kilo, fake_server):
    assert kilo(["config", "set", "max_cost_usd", "0.000001"]).returncode == 0
    fake_server.script(answer="expensive words")
    refused = kilo(["ask", "--model", "gpt-5.1", "hello there"], env=_env(fake_server))
    assert refused.returncode == 2
    err = refused.stderr.decode()
    assert "pinned model gpt-5.1" in err and "--force" in err and "over --max-cost" in err
    assert fake_server.requests == []  # nothing was called, nothing billed
    forced = kilo(["ask", "--model", "gpt-5.1", "--force", "hello there"], env=_env(fake_server))
    assert forced.returncode == 0, forced.stderr.decode()
    assert forced.stdout.decode() == "expensive words\n"


def test_file_from_a_device_is_refused_at_once(kilo, fake_server):
    began = time.monotonic()
    proc = kilo(["ask", "-f", "/dev/zero", "what is this"], env=_env(fake_server), timeout=20)
    assert proc.returncode == 2
    assert "--file: /dev/zero is a device or socket" in proc.stderr.decode()
    assert time.monotonic() - began < 15
    assert fake_server.requests == []


def test_file_from_a_fifo_is_refused_without_hanging(kilo, fake_server, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = kilo(["ask", "-f", str(fifo), "what is this"], env=_env(fake_server), timeout=20)
    assert proc.returncode == 2
    assert f"--file: {fifo} is a FIFO" in proc.stderr.decode()


def test_a_file_over_the_limit_is_refused_by_name(kilo, fake_server, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("x" * (256 * 1024 + 1))
    proc = kilo(["ask", "-f", str(big), "summarise"], env=_env(fake_server))
    assert proc.returncode == 2
    assert f"--file: {big} is over 256 KiB" in proc.stderr.decode()


def test_max_tokens_is_clamped_so_the_worst_case_stays_under_the_cap(kilo, fake_server):
    fake_server.script(answer="short and cheap")
    # gpt-5 at $1.25 / $10 per Mtok: $0.01 leaves room for about 990 output tokens, not 8192
    proc = kilo(
        ["ask", "--model", "gpt-5", "--max-cost", "0.01", "explain python decorators"],
        env=_env(fake_server),
    )
    assert proc.returncode == 0, proc.stderr.decode()
    sent = fake_server.requests[-1].body
    limit = sent.get("max_completion_tokens") or sent.get("max_tokens")
    assert 900 <= limit < 1000
    assert "max_tokens clamped to" in proc.stderr.decode()


def test_timeout_bounds_the_whole_call_and_keeps_what_came(kilo, fake_server):
    # the first chunk arrives, then the provider stalls for a minute
    fake_server.script(faults=["stall:1:60"], answer="first second third")
    began = time.monotonic()
    proc = kilo(["ask", "--timeout", "3", "explain closures"], env=_env(fake_server), timeout=40)
    elapsed = time.monotonic() - began
    assert proc.returncode == 1, proc.stderr.decode()
    assert elapsed < 25  # the stall alone is 60 s; start-up takes a few
    assert "no complete answer within 3 s" in proc.stderr.decode()
    assert proc.stdout.decode().startswith("first")
    import sqlite3

    row = (
        sqlite3.connect(kilo.home / "data" / "kilocli.db")
        .execute("SELECT status, answer FROM turns")
        .fetchone()
    )
    assert row == ("incomplete", "first")


def test_timeout_covers_a_provider_that_never_answers(kilo, fake_server):
    fake_server.script(faults=["timeout:60"] * 9)
    began = time.monotonic()
    proc = kilo(["ask", "--timeout", "3", "hello there"], env=_env(fake_server), timeout=40)
    assert proc.returncode == 1, proc.stderr.decode()
    assert time.monotonic() - began < 25
    assert "no complete answer within 3 s" in proc.stderr.decode()


@pytest.mark.parametrize("value", ["0", "nan", "99999"])
def test_timeout_must_be_sane(kilo, value: str):
    proc = kilo(["ask", "--timeout", value, "hello there"])
    assert proc.returncode == 2
    assert "--timeout" in proc.stderr.decode()
