"""`kilo serve` end to end: the real CLI as a server, the official OpenAI and Anthropic SDKs as
clients, the loopback fake server as the upstream, the real store underneath."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from fakeserver import FakeServer, status, unauthorized
from serving import ServeProcess

OPENAI_KEY = "sk-upstream-secret-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-upstream-secret-0123456789"
ANSWER = "Renamed foo to bar in utils.py."


def _home(tmp: Path, shared_cache: Path) -> Path:
    home = tmp / "kilohome"
    home.mkdir()
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    return home


@pytest.fixture(scope="module")
def upstream():
    with FakeServer() as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory, shared_cache, upstream):
    home = _home(tmp_path_factory.mktemp("serve"), shared_cache)
    env = {
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": upstream.url,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": upstream.url,
    }
    server = ServeProcess.start(home, env)
    server.home = home
    yield server
    assert server.stop() == 0, server.stderr
    # keys never reach the log
    assert OPENAI_KEY not in server.stderr and ANTHROPIC_KEY not in server.stderr


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream):
    upstream.reset()
    upstream.script(answer=ANSWER)


def _store(server):
    from kilocli.store import Store

    return Store(server.home / "data" / "kilocli.db")


def _turns(server) -> list:
    with _store(server) as store:
        return [
            turn
            for summary in store.list_sessions(1000)
            for turn in store.session(summary.id).turns
        ]


def _client(server, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, **kwargs)


def _post(server, body: bytes | str, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/chat/completions", content=body, headers=headers, timeout=30)


# -- priority 1: the OpenAI API, routed and recorded ---------------------------------------------


def test_openai_sdk_non_streaming_is_routed_recorded_and_priced(served, upstream):
    raw = _client(served).chat.completions.with_raw_response.create(
        model="kilo-auto",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "rename foo to bar in utils.py"},
        ],
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == ANSWER
    model = raw.headers["x-kilo-model"]
    assert completion.model == model  # the model really used, not "kilo-auto"
    assert raw.headers["x-kilo-tier"] == "auto-efficient"
    assert raw.headers["x-kilo-task"] == "edit"
    assert raw.headers["x-kilo-difficulty"] in ("easy", "medium", "hard")
    assert float(raw.headers["x-kilo-estimated-cost-usd"]) > 0
    assert completion.usage.prompt_tokens == 12 and completion.usage.completion_tokens == 7
    assert completion.usage.model_extra["cost"] > 0
    # the upstream got the client's conversation, system message included, for that model
    (sent,) = upstream.requests
    assert sent.body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    # recorded like an ask, in a session of kind "serve"
    with _store(served) as store:
        (summary,) = [s for s in store.list_sessions() if s.id == raw.headers["x-kilo-session"]]
        assert summary.kind == "serve"
        (turn,) = store.session(summary.id).turns
    assert (turn.status, turn.model, turn.answer) == ("ok", model, ANSWER)
    assert turn.prompt == "rename foo to bar in utils.py"
    assert turn.cost_usd == pytest.approx(completion.usage.model_extra["cost"])


def test_openai_sdk_streaming_ends_with_usage_and_is_recorded(served, upstream):
    before = len(_turns(served))
    stream = _client(served).chat.completions.create(
        model="kilo-balanced",
        messages=[{"role": "user", "content": "write a unit test for parse()"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].usage.total_tokens == 19 and chunks[-1].usage.model_extra["cost"] > 0
    assert upstream.requests[0].body["stream"] is True
    turns = _turns(served)
    assert len(turns) == before + 1
    assert any(t.answer == ANSWER and t.tier == "balanced" for t in turns)


def test_pinned_catalogue_model_and_tier_aliases(served, upstream):
    client = _client(served)
    pinned = client.chat.completions.with_raw_response.create(
        model="gpt-5-mini", messages=[{"role": "user", "content": "hello"}]
    )
    assert pinned.headers["x-kilo-model"] == "gpt-5-mini"
    assert pinned.parse().model == "gpt-5-mini"
    assert upstream.requests[-1].model == "gpt-5-mini"
    frontier = client.chat.completions.with_raw_response.create(
        model="kilo-frontier", messages=[{"role": "user", "content": "hello"}]
    )
    assert frontier.headers["x-kilo-tier"] == "frontier"
    assert frontier.headers["x-kilo-model"] != "gpt-5-mini"


def test_models_lists_aliases_and_reachable_models(served):
    ids = [m.id for m in _client(served).models.list()]
    assert ids[:5] == [
        "kilo-auto",
        "kilo-frontier",
        "kilo-balanced",
        "kilo-free",
        "kilo-auto-efficient",
    ]
    assert "gpt-5-mini" in ids  # reachable with the OpenAI key
    assert any(i.startswith("claude") for i in ids)  # and with the Anthropic key


def test_follow_up_keeps_session_and_model(served, upstream):
    client = _client(served)
    first = client.chat.completions.with_raw_response.create(
        model="kilo-auto",
        messages=[{"role": "user", "content": "rename foo to bar in utils.py"}],
    )
    follow = client.chat.completions.with_raw_response.create(
        model="kilo-auto",
        messages=[
            {"role": "user", "content": "rename foo to bar in utils.py"},
            {"role": "assistant", "content": first.parse().choices[0].message.content},
            {"role": "user", "content": "yes, do the same in tests.py"},
        ],
    )
    assert follow.headers["x-kilo-session"] == first.headers["x-kilo-session"]
    assert follow.headers["x-kilo-model"] == first.headers["x-kilo-model"]
    with _store(served) as store:
        turns = store.session(first.headers["x-kilo-session"]).turns
    assert [t.prompt for t in turns] == [
        "rename foo to bar in utils.py",
        "yes, do the same in tests.py",
    ]
    # a different conversation opens its own session
    other = client.chat.completions.with_raw_response.create(
        model="kilo-auto", messages=[{"role": "user", "content": "explain this regex: ^a+$"}]
    )
    assert other.headers["x-kilo-session"] != first.headers["x-kilo-session"]


def test_stats_and_sessions_show_served_traffic(served, kilo):
    _client(served).chat.completions.create(
        model="kilo-auto", messages=[{"role": "user", "content": "add a docstring to parse()"}]
    )
    with _store(served) as store:
        figures = store.stats()
    assert figures.served_turns >= 1 and figures.served_turns == figures.turns


# -- priority 2: errors, limits, keys ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b'{"model": "kilo-auto", "messages": [', 400, "invalid JSON"),
        (b'{"model": "kilo-auto"}', 400, "messages"),
        (b'{"model": "kilo-auto", "messages": []}', 400, "messages"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "model"),
        (
            b'{"model": "gpt-9-ultra", "messages": [{"role": "user", "content": "hi"}]}',
            404,
            "gpt-9",
        ),
        (b'{"model": "kilo-auto", "messages": [{"role": "wizard", "content": "hi"}]}', 400, "role"),
        (
            b'{"model": "kilo-auto", "n": 3, "messages": [{"role": "user", "content": "x"}]}',
            400,
            "n",
        ),
        (b"[1, 2]", 400, "JSON object"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_nothing_is_recorded(
    served, upstream, body, status, needle
):
    before = len(_turns(served))
    response = _post(served, body, **{"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert needle in error["message"] and error["type"]
    assert len(_turns(served)) == before
    assert upstream.requests == []


def test_ten_megabyte_body_is_refused_with_413(served, upstream):
    before = len(_turns(served))
    big = json.dumps(
        {"model": "kilo-auto", "messages": [{"role": "user", "content": "x" * (10 * 1024 * 1024)}]}
    )
    response = _post(served, big, **{"content-type": "application/json"})
    assert response.status_code == 413
    assert "MiB" in response.json()["error"]["message"]
    assert len(_turns(served)) == before and upstream.requests == []


def test_upstream_rate_limit_maps_to_429_and_is_recorded_as_failed(served, upstream):
    upstream.script(faults=["429:0", "429:0", "429:0"])
    with pytest.raises(openai.RateLimitError) as caught:
        _client(served).chat.completions.create(
            model="gpt-5-mini", messages=[{"role": "user", "content": "hello there"}]
        )
    assert "rate limited" in caught.value.message
    assert len(upstream.requests) == 3  # retried as kilo ask retries
    assert [t.status for t in _turns(served) if t.prompt == "hello there"] == ["error"]


def test_upstream_auth_failure_is_502_naming_the_variable_never_the_key(served, upstream):
    upstream.script(faults=[unauthorized(f"Incorrect API key provided: {OPENAI_KEY}")])
    response = _post(
        served,
        json.dumps({"model": "gpt-5-mini", "messages": [{"role": "user", "content": "hi"}]}),
    )
    assert response.status_code == 502
    assert "OPENAI_API_KEY" in response.text
    assert OPENAI_KEY not in response.text


def test_upstream_bad_request_is_400_with_its_message(served, upstream):
    upstream.script(faults=[status(400, "temperature must be at most 2")])
    with pytest.raises(openai.BadRequestError) as caught:
        _client(served).chat.completions.create(
            model="gpt-5-mini", messages=[{"role": "user", "content": "hi"}], temperature=5
        )
    assert "temperature must be at most 2" in caught.value.message


def test_no_cors_headers(served):
    response = httpx.options(
        f"{served.url}/chat/completions",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert not any(h.lower().startswith("access-control-") for h in response.headers)


def test_non_loopback_bind_without_token_is_refused(kilo):
    result = kilo(["serve", "--host", "0.0.0.0", "--port", "0"], timeout=30)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "--token-env" in lines[0]


def test_bearer_token_is_checked_on_every_request(tmp_path, shared_cache, upstream):
    token = "team-token-0123456789abcdef"
    server = ServeProcess.start(
        _home(tmp_path, shared_cache),
        {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": upstream.url, "KILO_TOKEN": token},
        ("--token-env", "KILO_TOKEN"),
    )
    try:
        assert httpx.get(f"{server.url}/models").status_code == 401
        wrong = httpx.get(f"{server.url}/models", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0).models.list()
        client = openai.OpenAI(base_url=server.url, api_key=token, max_retries=0)
        answer = client.chat.completions.create(
            model="kilo-auto", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content == ANSWER
        assert len(upstream.requests) == 1  # refused requests never reached the upstream
    finally:
        assert server.stop() == 0


# -- priority 3: parameters and tool calls pass through -------------------------------------------

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file of the repository",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    }
]


def test_openai_sdk_tool_call_round_trip_streamed(served, upstream):
    upstream.script(
        answer="", tool_calls=(("read_file", '{"path": "utils.py"}'),), finish_reason="tool_calls"
    )
    client = _client(served)
    question = {"role": "user", "content": "rename foo to bar in utils.py"}
    stream = client.chat.completions.create(
        model="gpt-5-mini",
        messages=[question],
        tools=TOOLS,
        tool_choice="auto",
        temperature=0.2,
        stop=["\n\n\n"],
        seed=7,
        response_format={"type": "text"},
        max_tokens=300,
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                entry["name"] = (call.function.name if call.function else None) or entry["name"]
                entry["arguments"] += (call.function.arguments if call.function else None) or ""
    assert finish == "tool_calls"
    assert calls == {0: {"id": "call_0", "name": "read_file", "arguments": '{"path": "utils.py"}'}}
    sent = upstream.requests[0].body
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"
    assert sent["temperature"] == 0.2 and sent["stop"] == ["\n\n\n"] and sent["seed"] == 7
    assert sent["response_format"] == {"type": "text"} and sent["max_tokens"] == 300
    # the client runs the tool and sends the result back: the conversation goes up verbatim
    upstream.script(answer="Done: foo is now bar.", tool_calls=(), finish_reason="stop")
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": "read_file", "arguments": calls[0]["arguments"]},
            }
        ],
    }
    result = {"role": "tool", "tool_call_id": "call_0", "content": "def foo(): pass"}
    final = client.chat.completions.with_raw_response.create(
        model="gpt-5-mini", messages=[question, assistant, result], tools=TOOLS
    )
    assert final.parse().choices[0].message.content == "Done: foo is now bar."
    assert "x-kilo-dropped-params" not in final.headers
    second = upstream.requests[-1].body["messages"]
    assert second[1]["tool_calls"][0]["function"]["name"] == "read_file"
    assert second[2] == result
    recorded = [t for t in _turns(served) if "read_file" in t.answer]
    assert recorded and recorded[0].answer.startswith("[tool call] read_file(")


def test_non_streaming_tool_call_and_dropped_params_for_anthropic_upstream(served, upstream):
    upstream.script(
        answer="Let me look.",
        tool_calls=(("read_file", '{"path": "a.py"}'),),
        finish_reason="tool_calls",
    )
    raw = _client(served).chat.completions.with_raw_response.create(
        model="claude-sonnet-4.5",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "read a.py"},
        ],
        tools=TOOLS,
        tool_choice="required",
        response_format={"type": "json_object"},
        seed=3,
        stop="END",
    )
    assert raw.headers["x-kilo-provider"] == "anthropic"
    assert raw.headers["x-kilo-dropped-params"] == "response_format,seed"
    message = raw.parse().choices[0].message
    assert message.content == "Let me look."
    assert message.tool_calls[0].function.name == "read_file"
    assert json.loads(message.tool_calls[0].function.arguments) == {"path": "a.py"}
    assert raw.parse().choices[0].finish_reason == "tool_calls"
    sent = upstream.requests[-1]
    assert sent.path.endswith("/messages")
    assert sent.body["system"] == "Be brief."
    assert sent.body["tools"][0]["name"] == "read_file"
    assert sent.body["tools"][0]["input_schema"] == TOOLS[0]["function"]["parameters"]
    assert sent.body["tool_choice"] == {"type": "any"} and sent.body["stop_sequences"] == ["END"]
    assert "response_format" not in sent.body and "seed" not in sent.body
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY


# -- priority 4: the Anthropic Messages API -----------------------------------------------------


def _anthropic(server) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.root, api_key="unused", max_retries=0)


def test_anthropic_sdk_messages_non_streaming(served, upstream):
    raw = _anthropic(served).messages.with_raw_response.create(
        model="kilo-auto",
        max_tokens=512,
        system="You are terse.",
        messages=[{"role": "user", "content": "rename foo to bar in utils.py"}],
    )
    message = raw.parse()
    assert message.content[0].text == ANSWER
    assert message.model == raw.headers["x-kilo-model"]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 7
    sent = upstream.requests[0].body
    assert sent["max_tokens"] == 512 or sent.get("max_completion_tokens") == 512
    system = sent.get("system") or sent["messages"][0]["content"]
    assert system == "You are terse."
    assert any(
        t.prompt == "rename foo to bar in utils.py" and t.status == "ok" for t in _turns(served)
    )


def test_anthropic_sdk_streaming_to_each_upstream_wire(served, upstream):
    client = _anthropic(served)
    for model, path in (("claude-haiku-4.5", "/messages"), ("gpt-5-mini", "/chat/completions")):
        with client.messages.stream(
            model=model,
            max_tokens=256,
            messages=[{"role": "user", "content": "write a haiku about tests"}],
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == ANSWER
        assert final.model == model and final.usage.output_tokens == 7
        assert upstream.requests[-1].path.endswith(path)


def test_anthropic_sdk_tool_use_through_an_openai_upstream(served, upstream):
    upstream.script(
        answer="", tool_calls=(("read_file", '{"path": "b.py"}'),), finish_reason="tool_calls"
    )
    tool = {
        "name": "read_file",
        "description": "Read a file",
        "input_schema": TOOLS[0]["function"]["parameters"],
    }
    client = _anthropic(served)
    question = {"role": "user", "content": "read b.py"}
    with client.messages.stream(
        model="gpt-5-mini",
        max_tokens=256,
        messages=[question],
        tools=[tool],
        extra_body={"top_k": 5},
    ) as stream:
        final = stream.get_final_message()
    (use,) = [b for b in final.content if b.type == "tool_use"]
    assert (use.name, use.input, final.stop_reason) == ("read_file", {"path": "b.py"}, "tool_use")
    sent = upstream.requests[-1].body
    assert sent["tools"] == [
        {"type": "function", "function": {**TOOLS[0]["function"], "description": "Read a file"}}
    ]
    assert "top_k" not in sent
    upstream.script(answer="It defines bar.", tool_calls=(), finish_reason="stop")
    reply = client.messages.create(
        model="gpt-5-mini",
        max_tokens=256,
        tools=[tool],
        messages=[
            question,
            {"role": "assistant", "content": [use.model_dump()]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "def bar(): pass"}
                ],
            },
        ],
    )
    assert reply.content[0].text == "It defines bar."
    messages = upstream.requests[-1].body["messages"]
    assert messages[1]["tool_calls"][0]["id"] == use.id
    assert messages[2] == {"role": "tool", "tool_call_id": use.id, "content": "def bar(): pass"}


def test_anthropic_errors_have_the_anthropic_shape(served, upstream):
    with pytest.raises(anthropic.NotFoundError) as caught:
        _anthropic(served).messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "not_found_error"
    response = httpx.post(f"{served.url}/messages", content=b"{not json")
    assert (
        response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    )
    assert upstream.requests == []


# -- priority 5: retries and fallback as in kilo ask ----------------------------------------------


def test_upstream_failure_falls_back_and_headers_name_the_model_really_used(served, upstream):
    client = _client(served)
    routed = client.chat.completions.with_raw_response.create(
        model="kilo-auto", messages=[{"role": "user", "content": "write a unit test for parse()"}]
    )
    first_choice = routed.headers["x-kilo-model"]
    upstream.script(faults=["503", "503", "503"], model=first_choice)
    again = client.chat.completions.with_raw_response.create(
        model="kilo-auto", messages=[{"role": "user", "content": "write a unit test for parse()"}]
    )
    used = again.headers["x-kilo-model"]
    assert used != first_choice and again.parse().model == used
    assert again.parse().choices[0].message.content == ANSWER
    assert [r.model for r in upstream.requests[1:4]] == [first_choice] * 3


def test_client_gone_mid_stream_is_recorded_as_interrupted(served, upstream):
    from serving import wait_until

    upstream.script(answer=" ".join(f"w{i}" for i in range(40)), chunk_delay=0.1)
    body = {
        "model": "gpt-5-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "tell a long story, client leaves"}],
    }
    with httpx.stream("POST", f"{served.url}/chat/completions", json=body, timeout=30) as response:
        for line in response.iter_lines():
            if '"content": "w' in line:
                break  # one token is enough: hang up

    def recorded() -> list:
        return [t for t in _turns(served) if t.prompt == body["messages"][0]["content"]]

    assert wait_until(lambda: [t.status for t in recorded()] == ["interrupted"], timeout=15)
    assert recorded()[0].answer.startswith("w0")


def test_stream_cut_upstream_after_tokens_ends_with_an_error_event(served, upstream):
    upstream.script(faults=["cut:2"])
    stream = _client(served).chat.completions.create(
        model="gpt-5-mini",
        messages=[{"role": "user", "content": "a stream that gets cut"}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert "cut off" in str(caught.value.message)
    assert "".join(received) == "Renamed foo"
    (turn,) = [t for t in _turns(served) if t.prompt == "a stream that gets cut"]
    assert (turn.status, turn.answer) == ("incomplete", "Renamed foo")


def test_cost_cap_and_timeout_from_config_hold_for_served_requests(
    tmp_path, shared_cache, upstream
):
    home = _home(tmp_path, shared_cache)
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text("max_cost_usd = 0.003\ntimeout_s = 1.5\n")
    server = ServeProcess.start(
        home, {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": upstream.url}
    )
    server.home = home
    try:
        client = _client(server)
        # a pinned model whose estimate is over the cap is refused before any call
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model="gpt-5.1", messages=[{"role": "user", "content": "plan the migration " * 200}]
            )
        assert "max_cost_usd $0.003)" in caught.value.message and upstream.requests == []
        # the whole call is bounded by timeout_s: a silent upstream becomes a 504
        upstream.script(faults=["timeout:5"])
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model="gpt-5-mini", messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.status_code == 504
        assert [t.status for t in _turns(server) if t.prompt == "hi"] == ["error"]
    finally:
        assert server.stop() == 0
