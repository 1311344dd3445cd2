"""The pure parts of kilo serve: request parsing, translation, sticky keys, auth, error mapping."""

from __future__ import annotations

import pytest

from kilocli.errors import UsageError
from kilocli.providers import errors as perr
from kilocli.providers.base import Finished, TextDelta, ToolCallDelta
from kilocli.providers.translate import messages_to_anthropic, params_to_anthropic
from kilocli.serve import anthropic_api, openai_api
from kilocli.serve.auth import is_loopback, resolve_token, token_matches
from kilocli.serve.request import ApiError, resolve_model
from kilocli.serve.sticky import StickyTable
from kilocli.serve.turns import failure_to_api


def test_openai_request_keeps_unknown_parameters_for_the_upstream():
    req = openai_api.parse_chat_request(
        {
            "model": "kilo-auto",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "max_completion_tokens": 50,
            "stream": True,
            "stream_options": {"include_usage": True},
            "logit_bias": {"42": 1},
        }
    )
    assert req.params == {"logit_bias": {"42": 1}}
    assert (req.max_tokens, req.stream, req.include_usage) == (50, True, True)
    assert req.user_turns == ["hi"] and req.prompt == "hi"


@pytest.mark.parametrize(
    "body",
    [
        {"model": "kilo-auto", "messages": [{"role": "assistant", "content": "hi"}]},
        {"model": "kilo-auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        {"model": "kilo-auto", "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
    ],
)
def test_openai_request_refusals_name_the_field(body):
    with pytest.raises(ApiError) as caught:
        openai_api.parse_chat_request(body)
    assert caught.value.status == 400 and caught.value.param


def test_model_names_resolve_to_tier_or_pin():
    ids = ["gpt-5-mini"]
    assert resolve_model("kilo-auto", "balanced", ids) == ("balanced", None)
    assert resolve_model("kilo-free", "balanced", ids) == ("free", None)
    assert resolve_model("gpt-5-mini", "balanced", ids) == ("balanced", "gpt-5-mini")
    with pytest.raises(ApiError) as caught:
        resolve_model("gpt-4", "balanced", ids)
    assert caught.value.status == 404 and caught.value.code == "model_not_found"


def test_openai_conversation_in_anthropic_terms():
    system, messages = messages_to_anthropic(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "read a.py"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "function": {"name": "read", "arguments": '{"path": "a.py"}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "x = 1"},
            {"role": "user", "content": "and now?"},
        ]
    )
    assert system == "Be brief."
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": "c1", "name": "read", "input": {"path": "a.py"}}
    ]
    # the tool result and the next user text share one user turn (roles must alternate)
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "x = 1"},
        {"type": "text", "text": "and now?"},
    ]
    assert params_to_anthropic({"stop": "END", "tool_choice": "none", "seed": 1}) == {
        "stop_sequences": ["END"],
        "tool_choice": {"type": "none"},
    }


def test_anthropic_request_in_openai_terms():
    req = anthropic_api.parse_messages_request(
        {
            "model": "kilo-auto",
            "max_tokens": 64,
            "system": [{"type": "text", "text": "Be brief."}],
            "stop_sequences": ["END"],
            "top_k": 3,
            "tool_choice": {"type": "any"},
            "messages": [
                {"role": "user", "content": "read a.py"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}],
                },
            ],
        }
    )
    assert [m["role"] for m in req.messages] == ["system", "user", "assistant", "tool"]
    assert req.params == {"stop": ["END"], "tool_choice": "required"}
    assert req.dropped == ("top_k",) and req.max_tokens == 64
    assert req.prompt == "[tool] x" and req.user_turns == ["read a.py"]


def test_message_writer_blocks_and_stop_reason():
    writer = anthropic_api.MessageWriter("msg_1", "gpt-5-mini")
    for event in (
        TextDelta("Looking"),
        ToolCallDelta(0, id="c1", name="read"),
        ToolCallDelta(0, arguments='{"path"'),
        ToolCallDelta(0, arguments=': "a.py"}'),
        Finished("tool_calls"),
    ):
        writer.feed(event)

    class Outcome:
        input_tokens, cached_input_tokens, output_tokens, cost_usd = 10, 4, 3, 0.001

    message = writer.message_json(Outcome())  # type: ignore[arg-type]
    assert message["content"] == [
        {"type": "text", "text": "Looking"},
        {"type": "tool_use", "id": "c1", "name": "read", "input": {"path": "a.py"}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert (
        message["usage"]["input_tokens"] == 6 and message["usage"]["cache_read_input_tokens"] == 4
    )


def test_sticky_table_finds_the_longest_remembered_prefix():
    table = StickyTable(capacity=2)
    first = [{"role": "user", "content": "rename foo"}]
    table.remember(first, "done", "s1", "gpt-5-mini")
    follow = [*first, {"role": "assistant", "content": "done"}, {"role": "user", "content": "more"}]
    hit = table.find(follow)
    assert hit is not None and (hit.session_id, hit.model) == ("s1", "gpt-5-mini")
    assert hit.prefix_tokens > 0
    # a different answer in the history is another conversation
    other = [*first, {"role": "assistant", "content": "nope"}, {"role": "user", "content": "more"}]
    assert table.find(other) is None
    # bounded: the least recently used goes first
    table.remember([{"role": "user", "content": "a"}], "x", "s2", "m")
    table.remember([{"role": "user", "content": "b"}], "x", "s3", "m")
    assert len(table) == 2 and table.find(follow) is None


def test_loopback_and_tokens():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.com")
    assert resolve_token("127.0.0.1", None, {}) is None
    with pytest.raises(UsageError, match="--token-env"):
        resolve_token("0.0.0.0", None, {})
    with pytest.raises(UsageError, match="16 characters"):
        resolve_token("0.0.0.0", "T", {"T": "short"})
    assert resolve_token("0.0.0.0", "T", {"T": "x" * 20}) == "x" * 20
    assert token_matches("x" * 20, "x" * 20) and not token_matches(None, "x" * 20)
    assert not token_matches("y" * 20, "x" * 20)


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (perr.RateLimited("r", retry_after=2.4), 429),
        (perr.BadRequest("b"), 400),
        (perr.AuthError("a"), 502),
        (perr.QuotaExceeded("q"), 402),
        (perr.ReadTimeout("t"), 504),
        (TimeoutError("t"), 504),
        (perr.ServerError("s"), 502),
        (perr.ConnectFailed("c"), 502),
        (UsageError("no provider configured: set ..."), 503),
    ],
)
def test_upstream_failures_map_to_statuses(failure, status):
    error = failure_to_api(failure, "message")
    assert error.status == status
    if status == 429:
        assert error.headers == {"retry-after": "2"}
