"""Real prompt caching: cache_control breakpoints on the wire (Anthropic natively and through
OpenRouter), pool validation of the write rate, and stickiness that counts only what a provider
reported cached (`kilo ask` recording and pricing them: tests/e2e/cli/test_prompt_cache.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from cache_marks import count_marks, marked
from rich.console import Console

from kilocli.config import get_paths
from kilocli.errors import PoolError
from kilocli.providers.base import ChatRequest, Message, ProviderConfig, Timeouts
from kilocli.providers.registry import configured_providers, make_provider
from kilocli.routing.cost import usage_cost
from kilocli.routing.pools import load_catalogue
from kilocli.store import Store

KEY = "sk-test-SECRET-0123456789abcdef"
FAST = Timeouts(connect=1.0, first_byte=2.0, idle=2.0)
FILES = 'Files the user added to this conversation:\n\n<file path="a.py">\nx = 1\n</file>'


def chat_request(model: str, *, blocks: tuple[str, ...] = ("Be brief.", FILES)) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(
            Message("user", "first question"),
            Message("assistant", "first answer"),
            Message("user", "second question"),
        ),
        system="\n\n".join(blocks),
        system_blocks=blocks,
        max_tokens=300,
        prompt_cache=True,
    )


def test_anthropic_gets_breakpoints_on_system_files_and_the_conversation(fake_server):
    cfg = ProviderConfig("anthropic", "anthropic", fake_server.url, "ANTHROPIC_API_KEY", key=KEY)
    list(make_provider(cfg, timeouts=FAST).stream(chat_request("claude-sonnet-4-5")))
    body = fake_server.requests[-1].body
    assert body["system"] == [*marked("Be brief."), *marked(FILES)]
    assert body["messages"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": marked("first answer")},  # end of the prior turns
        {"role": "user", "content": marked("second question")},  # read back by the next turn
    ]
    assert count_marks(body) == 4


def test_never_more_than_four_breakpoints_the_earliest_system_piece_goes_first(fake_server):
    cfg = ProviderConfig("anthropic", "anthropic", fake_server.url, "ANTHROPIC_API_KEY", key=KEY)
    request = chat_request("claude-sonnet-4-5", blocks=("one", "two", "three"))
    list(make_provider(cfg, timeouts=FAST).stream(request))
    body = fake_server.requests[-1].body
    assert count_marks(body) == 4
    assert body["system"][0] == {"type": "text", "text": "one"}
    assert body["system"][1:] == [*marked("two"), *marked("three")]


def test_openrouter_anthropic_models_get_content_parts_with_cache_control(fake_server):
    [cfg] = configured_providers(None, lambda var: None, {"OPENROUTER_API_KEY": KEY})
    p = make_provider(replace(cfg, base_url=fake_server.url), timeouts=FAST)
    list(p.stream(chat_request("anthropic/claude-sonnet-4.5")))
    body = fake_server.requests[-1].body
    assert body["messages"] == [
        {"role": "system", "content": [*marked("Be brief."), *marked(FILES)]},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": marked("first answer")},
        {"role": "user", "content": marked("second question")},
    ]
    # other models cache on their own: their body stays plain
    list(p.stream(chat_request("openai/gpt-5")))
    plain = fake_server.requests[-1].body
    assert count_marks(plain) == 0
    assert plain["messages"][0] == {"role": "system", "content": "Be brief.\n\n" + FILES}


def test_an_existing_database_gains_the_cache_write_column(tmp_path: Path):
    import sqlite3

    from kilocli.store import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0][2]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO sessions VALUES ('s1', 'ask', 'balanced', 'old', ?, ?)",
        ("2026-01-01T00:00:00.000+00:00", "2026-01-01T00:00:00.000+00:00"),
    )
    conn.commit()
    conn.close()
    with Store(path) as store:
        turn = store.start_turn("s1", "hi")
        store.finish_turn(
            turn,
            answer="ok",
            status="ok",
            decision={},
            model="claude-haiku-4.5",
            provider="anthropic",
            usage={"input_tokens": 10, "output_tokens": 2, "cache_write_tokens": 8},
            estimated_cost_usd=None,
            cost_usd=0.001,
            frontier_cost_usd=None,
            latency_ms=5,
        )
        [record] = store.session("s1").turns
    assert record.cache_write_tokens == 8


def _pool_error(text: str) -> str:
    folder = get_paths().user_pools_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mine.toml").write_text(text)
    with pytest.raises(PoolError) as info:
        load_catalogue()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str((folder / "mine.toml").resolve()) + ": "), message
    return message.split(": ", 1)[1]


def test_a_negative_cache_write_rate_is_refused_by_file_and_field():
    message = _pool_error('[models."claude-haiku-4.5".price]\ncache_write = -1.25\n')
    assert message == (
        'models."claude-haiku-4.5".price.cache_write: must be a number >= 0 or "unknown", got -1.25'
    )


ANTHROPIC_MODEL = """
[models."claude-next"]
name = "Claude Next"
vendor = "Anthropic"
context_window = 200_000
max_output_tokens = 64_000
providers = { anthropic = "claude-next" }
price = { input = 2.0, output = 10.0, cached_input = 0.2, source = "vendor", date = "2026-11-01" }
basis = { debug = "my own run" }
[models."claude-next".skills]
debug = { easy = 0.8, medium = 0.6, hard = 0.3 }
"""


def test_an_anthropic_model_without_a_cache_write_rate_is_refused():
    message = _pool_error(ANTHROPIC_MODEL)
    assert message.startswith("models.claude-next.price.cache_write: missing")
    # with the rate it loads, and a write is priced at it
    folder = get_paths().user_pools_dir
    fixed = ANTHROPIC_MODEL.replace("cached_input = 0.2,", "cached_input = 0.2, cache_write = 2.5,")
    (folder / "mine.toml").write_text(fixed)
    spec = load_catalogue().models["claude-next"]
    assert usage_cost(spec, 1_000, 0, cache_write_tokens=1_000) == pytest.approx(0.0025)


# -- stickiness --------------------------------------------------------------------------------
def _session(tmp_path: Path):
    from kilocli.chat.session import ChatSession, LastTurn, Loader
    from kilocli.settings import Settings
    from kilocli.ui.chat_view import ChatView

    paths = get_paths()
    session = ChatSession(
        paths,
        Settings(),
        loader=Loader(build=lambda: None),  # type: ignore[arg-type,return-value]
        make_engine=lambda router: None,  # type: ignore[arg-type,return-value]
        store=Store(tmp_path / "s.db"),
        view=ChatView(
            Console(file=open("/dev/null", "w")),  # noqa: SIM115
            Console(file=open("/dev/null", "w")),  # noqa: SIM115
        ),
        tier="auto-efficient",
    )
    session.conversation.add_exchange("explain this module " * 200, "it parses things " * 300)

    def after(model: str, cached: int, written: int) -> None:
        outcome = SimpleNamespace(
            model=model, cached_input_tokens=cached, cache_write_tokens=written
        )
        session.current_model = "claude-sonnet-4.5"
        session.last = LastTurn("q", None, outcome)  # type: ignore[arg-type]

    return session, after


def test_stickiness_counts_only_what_the_provider_reported_cached(tmp_path):
    session, after = _session(tmp_path)
    prefix = session.conversation.cached_prefix_tokens(None)
    assert prefix > 1_000
    after("claude-sonnet-4.5", 0, 0)  # nothing cached: no cached price assumed
    assert session.cached_prefix() == 0
    after("claude-sonnet-4.5", 0, 700)  # written last turn: readable now
    assert session.cached_prefix() == 700
    after("claude-sonnet-4.5", 400, 10_000_000)  # never more than the prefix resent
    assert session.cached_prefix() == prefix
    after("gpt-5", 900, 0)  # cached on another model: worth nothing to this one
    assert session.cached_prefix() == 0


def test_a_chat_sends_its_prompt_and_files_as_two_cacheable_pieces(tmp_path: Path):
    from kilocli.chat.context import Conversation

    (tmp_path / "a.py").write_text("a = 1\n")
    conv = Conversation()
    assert conv.system_blocks(None) == ()
    assert conv.system_blocks("be brief") == ("be brief",)
    conv.add_file("a.py", tmp_path)
    base, files = conv.system_blocks("be brief")
    assert base == "be brief" and files.startswith("Files the user added")
    assert "\n\n".join((base, files)) == conv.system_text("be brief")
    [only] = conv.system_blocks(None)
    assert only == conv.system_text(None)
