"""Prompt caching through `kilo ask`: cache reads and writes recorded and priced (Anthropic natively
and through OpenRouter), and a pool error about the write rate is one line."""

from __future__ import annotations

import json

import pytest
from cache_marks import count_marks, marked

from kilocli.store import Store

KEY = "sk-test-SECRET-0123456789abcdef"


def _ask_env(kilo, fake_server, provider: str) -> dict[str, str]:
    if provider == "anthropic":
        return {"ANTHROPIC_BASE_URL": fake_server.url, "ANTHROPIC_API_KEY": KEY}
    config = kilo.home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[providers.openrouter]\nbase_url = "{fake_server.url}"\n')
    return {"OPENROUTER_API_KEY": KEY}


@pytest.mark.parametrize("provider", ["anthropic", "openrouter"])
def test_cache_reads_and_writes_are_recorded_and_priced(kilo, fake_server, provider):
    # 10,000 prompt tokens: 6,000 read from the cache, 3,000 written to it, 1,000 plain
    fake_server.script(
        answer="cached answer",
        input_tokens=10_000,
        cached_tokens=6_000,
        cache_write_tokens=3_000,
        output_tokens=500,
    )
    env = _ask_env(kilo, fake_server, provider)
    proc = kilo(
        ["ask", "--model", "claude-sonnet-4.5", "-s", "You review code.", "--json", "hello"],
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    assert out["usage"]["cached_input_tokens"] == 6_000
    assert out["usage"]["cache_write_tokens"] == 3_000
    # Sonnet 4.5: $3 input, $0.30 cache read, $3.75 cache write, $15 output per Mtok
    expected = (1_000 * 3 + 6_000 * 0.3 + 3_000 * 3.75 + 500 * 15) / 1e6
    assert out["cost_usd"] == pytest.approx(expected)
    with Store(kilo.home / "data" / "kilocli.db") as store:
        [turn] = store.session("last").turns
    assert (turn.input_tokens, turn.cached_input_tokens, turn.cache_write_tokens) == (
        10_000,
        6_000,
        3_000,
    )
    assert turn.cost_usd == pytest.approx(expected)
    body = fake_server.requests[-1].body
    assert count_marks(body) == 2  # the system prompt and the question
    if provider == "anthropic":
        assert body["system"] == marked("You review code.")
        assert body["messages"] == [{"role": "user", "content": marked("hello")}]
    else:
        assert body["model"] == "anthropic/claude-sonnet-4.5"
        assert body["messages"][0] == {"role": "system", "content": marked("You review code.")}


def test_a_pool_error_is_one_line_from_the_cli(kilo):
    folder = kilo.home / "config" / "pools"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('[models."claude-opus-4.5".price]\ncache_write = -6\n')
    proc = kilo(["models"])
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "mine.toml" in err and "price.cache_write" in err
