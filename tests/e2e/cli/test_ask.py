"""`kilo ask` end to end: a real process talking real HTTP to the loopback provider server."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

KEY = "sk-test-DO-NOT-LEAK-4242"


def _openai_env(server) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY}


def _turns(home) -> list[sqlite3.Row]:
    db = sqlite3.connect(home / "data" / "kilocli.db")
    db.row_factory = sqlite3.Row
    return db.execute("SELECT * FROM turns ORDER BY id").fetchall()


def _no_key(proc) -> None:
    assert KEY not in proc.stdout.decode(errors="replace")
    assert KEY not in proc.stderr.decode(errors="replace")


def test_pipeline_commit_message(kilo, fake_server):
    fake_server.script(answer="Add greeting to x", input_tokens=40, output_tokens=6)
    diff = b"diff --git a/x b/x\n+hello\n"
    proc = kilo(["ask", "write a commit message"], input=diff, env=_openai_env(fake_server))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "Add greeting to x\n"  # the answer alone on stdout
    err = proc.stderr.decode()
    assert "docs/" in err and "via openai" in err and "est. $" in err
    assert "40 in / 6 out" in err
    body = fake_server.requests[-1].body
    content = body["messages"][-1]["content"]
    assert content.startswith("write a commit message\n\n<stdin>\ndiff --git")
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    _no_key(proc)
    rows = _turns(kilo.home)
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["answer"] == "Add greeting to x"
    assert KEY not in " ".join(str(v) for v in rows[0])


def test_json_output_and_cost_from_usage(kilo, fake_server):
    fake_server.script(answer="ok", input_tokens=1000, output_tokens=500, cached_tokens=400)
    proc = kilo(
        ["ask", "--json", "explain what a python generator is"], env=_openai_env(fake_server)
    )
    assert proc.returncode == 0, proc.stderr.decode()
    obj = json.loads(proc.stdout)
    for key in ("answer", "decision", "usage", "cost_usd", "duration_ms", "session_id"):
        assert key in obj
    assert obj["answer"] == "ok"
    assert obj["usage"]["input_tokens"] == 1000 and obj["usage"]["cached_input_tokens"] == 400
    # price the usage with the catalogue's figures for the model used
    from kilocli.routing.pools import load_catalogue

    price = load_catalogue().models[obj["model"]].price
    cached = price.cached_input if price.cached_input is not None else price.input
    expected = (600 * price.input + 400 * cached + 500 * price.output) / 1e6
    assert obj["cost_usd"] == pytest.approx(expected, rel=1e-6)
    assert obj["decision"]["model"] == obj["model"]
    # the saving is measured on the real usage: the frontier model's prices for the same tokens
    frontier = load_catalogue().models[obj["decision"]["frontier_model"]].price
    f_cached = frontier.cached_input if frontier.cached_input is not None else frontier.input
    f_expected = (600 * frontier.input + 400 * f_cached + 500 * frontier.output) / 1e6
    row = _turns(kilo.home)[0]
    assert row["frontier_cost_usd"] == pytest.approx(f_expected, rel=1e-6)


def test_rate_limit_is_retried_after_retry_after(kilo, fake_server):
    fake_server.script(faults=["429:1"], answer="done")
    started = time.monotonic()
    proc = kilo(["ask", "fix the typo in the readme title"], env=_openai_env(fake_server))
    assert proc.returncode == 0, proc.stderr.decode()
    assert time.monotonic() - started >= 1.0
    assert proc.stdout.decode() == "done\n"
    assert "429" in proc.stderr.decode()
    assert len(fake_server.requests) == 2


def test_server_errors_fall_back_to_the_next_adequate_model(kilo, fake_server):
    first = json.loads(
        kilo(
            ["route", "--json", "fix the typo in the readme title"], env=_openai_env(fake_server)
        ).stdout
    )
    fake_server.script(faults=["500", "500", "500"], model=first["model"])
    proc = kilo(["ask", "--json", "fix the typo in the readme title"], env=_openai_env(fake_server))
    assert proc.returncode == 0, proc.stderr.decode()
    obj = json.loads(proc.stdout)
    assert obj["model"] != first["model"]
    assert len(fake_server.requests_for(first["model"])) == 3  # one call, two retries
    assert "falling back" in proc.stderr.decode().lower()


def test_auth_error_names_the_variable_never_the_key(kilo, fake_server):
    fake_server.script(faults=["401"])
    proc = kilo(["ask", "hello there"], env=_openai_env(fake_server))
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "OPENAI_API_KEY" in err and "Traceback" not in err
    _no_key(proc)
    assert len(fake_server.requests) == 1  # no retry on auth errors
    assert _turns(kilo.home)[0]["status"] == "error"


def test_bad_request_shows_the_providers_message(kilo, fake_server):
    from fakeserver import bad_request

    fake_server.script(faults=[bad_request("context_length_exceeded: trim the prompt")])
    proc = kilo(["ask", "hello there"], env=_openai_env(fake_server))
    assert proc.returncode == 1
    assert "context_length_exceeded: trim the prompt" in proc.stderr.decode()
    assert len(fake_server.requests) == 1  # not retried


def test_stream_cut_keeps_the_partial_answer(kilo, fake_server):
    fake_server.script(faults=["cut:2"], answer="one two three four five")
    proc = kilo(["ask", "explain closures in javascript"], env=_openai_env(fake_server))
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("one two")
    assert "incomplete" in proc.stderr.decode()
    row = _turns(kilo.home)[0]
    assert row["status"] == "incomplete" and row["answer"] == "one two"


def test_ctrl_c_keeps_the_partial_answer_and_exits_130(kilo, fake_server, tmp_path):
    fake_server.script(faults=["stall:1:60"], answer="first second third")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(_openai_env(fake_server), KILOCLI_HOME=str(kilo.home), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kilocli", "ask", "explain closures in javascript"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.read(5) == b"first"  # the first chunk arrived, then the server stalls
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=45)  # well before the stall ends: exit must not wait for it
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err
    row = _turns(kilo.home)[0]
    assert row["status"] == "interrupted" and row["answer"] == "first"


def test_anthropic_only_user(kilo, fake_server):
    fake_server.script(answer="Sure.")
    env = {"ANTHROPIC_BASE_URL": fake_server.root, "ANTHROPIC_API_KEY": KEY}
    proc = kilo(["ask", "-s", "be terse", "--json", "what does git stash do"], env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    obj = json.loads(proc.stdout)
    assert obj["provider"] == "anthropic" and obj["model"].startswith("claude-")
    req = fake_server.requests[-1]
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == KEY and "anthropic-version" in req.headers
    # Anthropic's prompt cache is opt-in: the system prompt carries a breakpoint
    system = [{"type": "text", "text": "be terse", "cache_control": {"type": "ephemeral"}}]
    assert req.body["system"] == system and req.body["max_tokens"] > 0
    _no_key(proc)


def test_files_pin_and_max_cost(kilo, fake_server, tmp_path):
    src = tmp_path / "parser.py"
    src.write_text("def parse(s):\n    return s.split()\n")
    env = _openai_env(fake_server)
    proc = kilo(["ask", "-f", str(src), "--model", "gpt-5", "add a docstring"], env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    body = fake_server.requests[-1].body
    assert body["model"] == "gpt-5"
    assert f'<file path="{src}">\ndef parse(s):' in body["messages"][-1]["content"]
    assert json.loads(_turns(kilo.home)[-1]["files"]) == [str(src)]  # recorded with the turn
    missing = kilo(["ask", "-f", str(tmp_path / "nope.py"), "add a docstring"], env=env)
    assert missing.returncode == 2 and "nope.py" in missing.stderr.decode()
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02")
    refused = kilo(["ask", "-f", str(binary), "what is this"], env=env)
    assert refused.returncode == 2 and "blob.bin" in refused.stderr.decode()
    capped = kilo(["ask", "--max-cost", "0.0000001", "design a multi-region failover"], env=env)
    assert capped.returncode == 2 and "--max-cost" in capped.stderr.decode()
    unknown = kilo(["ask", "--model", "gpt-9-ultra", "hi"], env=env)
    assert unknown.returncode == 2 and "gpt-9-ultra" in unknown.stderr.decode()


def test_no_provider_configured_is_a_usage_error(kilo):
    proc = kilo(["ask", "hello there"])
    assert proc.returncode == 2
    assert "no provider configured" in proc.stderr.decode()


def test_two_asks_at_once_both_land(kilo, fake_server):
    fake_server.script(answer="parallel", chunk_delay=0.05)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(_openai_env(fake_server), KILOCLI_HOME=str(kilo.home), HF_HUB_OFFLINE="1")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kilocli", "ask", f"explain list comprehension number {i}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    assert len(_turns(kilo.home)) == 2
    # wide enough for whole titles beside costs like $0.0001913 (stats' and /cost's formatter)
    listing = kilo(["sessions", "list"], env={"COLUMNS": "120"})
    assert (
        listing.returncode == 0 and listing.stdout.decode().count("explain list comprehension") == 2
    )


def test_ollama_only_user_is_served_from_the_free_tier_at_zero_cost(kilo, fake_server):
    fake_server.script(answer="Rename done.", input_tokens=30, output_tokens=4)
    env = {"OLLAMA_HOST": fake_server.root}
    proc = kilo(["ask", "--json", "rename x to y in utils.py"], env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    obj = json.loads(proc.stdout)
    assert obj["provider"] == "ollama" and obj["cost_usd"] == 0.0
    assert obj["decision"]["tier"] == "free"
    assert fake_server.requests[-1].path == "/v1/chat/completions"
    assert "authorization" not in fake_server.requests[-1].headers


def test_no_provider_names_a_custom_providers_key_variable(kilo):
    assert (
        kilo(["config", "set", "providers.lab.base_url", "http://127.0.0.1:9/v1"]).returncode == 0
    )
    assert kilo(["config", "set", "providers.lab.key_env", "LAB_API_KEY"]).returncode == 0
    proc = kilo(["ask", "hello there"])
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "no provider configured" in err and "LAB_API_KEY (for lab)" in err
