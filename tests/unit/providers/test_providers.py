"""Providers over real HTTP against tests/fakeserver.py: what is sent, what is parsed, faults (the
fake server run as its own process: tests/e2e/test_fakeserver.py)."""

from __future__ import annotations

import traceback
from dataclasses import replace

import httpx
import pytest
from fakeserver import cut, malformed, read_timeout, reset, stall, status, stream_error
from provider_calls import FAST, failure_of, request, text_of

from kilocli.errors import ConfigError
from kilocli.providers._http import _needs_tls, shared_ssl_context
from kilocli.providers.base import (
    Finished,
    ProviderConfig,
    TextDelta,
    Timeouts,
    UsageReport,
)
from kilocli.providers.errors import (
    AuthError,
    BadRequest,
    ConnectFailed,
    ConnectionReset,
    MalformedResponse,
    QuotaExceeded,
    RateLimited,
    ReadTimeout,
    ServerError,
    StreamInterrupted,
    parse_retry_after,
    provider_message,
)
from kilocli.providers.registry import (
    configured_providers,
    make_provider,
    ollama_base_url,
    provider_model_id,
    reachable_models,
)
from kilocli.providers.sse import SSEvent, iter_sse, sse_lines
from kilocli.routing.pools import ModelSpec, Price

KEY = "sk-test-SECRET-0123456789abcdef"
WIRES = ["openai", "anthropic"]


def provider(server, kind: str, *, key: str | None = KEY, timeouts: Timeouts = FAST, **fields):
    cfg = ProviderConfig(
        name="fake", kind=kind, base_url=server.url, key_env="FAKE_API_KEY", key=key, **fields
    )
    return make_provider(cfg, timeouts=timeouts)


def assert_no_key(exc: BaseException) -> None:
    rendered = "".join(traceback.format_exception(exc))
    assert KEY not in str(exc)
    assert KEY not in repr(exc)
    assert KEY not in rendered
    assert exc.__context__ is None and exc.__cause__ is None


# -- what each wire format sends ------------------------------------------------------------------


def test_openai_request_body_and_headers(fake_server):
    list(provider(fake_server, "openai").stream(request(temperature=0.2)))
    [sent] = fake_server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {
        "model": "m-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "more"},
        ],
        "max_tokens": 321,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
    }


def test_openai_without_system_or_key_sends_neither(fake_server):
    list(provider(fake_server, "openai", key=None).stream(request(system=None)))
    [sent] = fake_server.requests
    assert "authorization" not in sent.headers
    assert [m["role"] for m in sent.body["messages"]] == ["user", "assistant", "user"]
    assert "temperature" not in sent.body


def test_anthropic_request_body_and_headers(fake_server):
    list(provider(fake_server, "anthropic").stream(request()))
    [sent] = fake_server.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body == {
        "model": "m-1",
        "max_tokens": 321,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "more"},
        ],
        "stream": True,
    }


def test_anthropic_base_url_with_or_without_v1(fake_server):
    cfg = ProviderConfig("fake", "anthropic", fake_server.root, "FAKE_API_KEY", key=KEY)
    list(make_provider(cfg, timeouts=FAST).stream(request()))
    assert [r.path for r in fake_server.requests] == ["/v1/messages"]


def test_openrouter_preset_sends_attribution_and_usage_accounting(fake_server):
    [cfg] = configured_providers(None, lambda var: None, {"OPENROUTER_API_KEY": KEY})
    p = make_provider(replace(cfg, base_url=fake_server.url), timeouts=FAST)
    list(p.stream(request()))
    [sent] = fake_server.requests
    assert sent.headers["http-referer"].startswith("https://")
    assert sent.headers["x-title"] == "kilocli"
    assert sent.headers["x-openrouter-title"] == "kilocli"
    assert sent.body["usage"] == {"include": True}
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.headers["user-agent"].startswith("kilocli/")


def test_openai_preset_uses_max_completion_tokens(fake_server):
    [cfg] = configured_providers(None, lambda var: None, {"OPENAI_API_KEY": KEY})
    assert cfg.base_url == "https://api.openai.com/v1"
    p = make_provider(replace(cfg, base_url=fake_server.url), timeouts=FAST)
    list(p.stream(request()))
    body = fake_server.requests[0].body
    assert body["max_completion_tokens"] == 321
    assert "max_tokens" not in body


@pytest.mark.parametrize("kind", WIRES)
def test_non_streaming_request(fake_server, kind):
    fake_server.script(answer="All in one piece.", cached_tokens=5)
    events = list(provider(fake_server, kind).stream(request(stream=False)))
    sent = fake_server.requests[0].body
    assert sent["stream"] is False
    assert "stream_options" not in sent
    assert events == [
        TextDelta("All in one piece."),
        UsageReport(input_tokens=12, output_tokens=7, cached_input_tokens=5),
        Finished("stop"),
    ]


# -- what each wire format parses ----------------------------------------------------------------


def test_openai_stream_text_and_usage(fake_server):
    fake_server.script(
        answer="Three small words",
        input_tokens=120,
        output_tokens=40,
        cached_tokens=100,
        cache_write_tokens=8,
        reasoning_tokens=30,
        cost=0.00123,
    )
    events = list(provider(fake_server, "openai").stream(request()))
    assert events == [
        TextDelta("Three"),
        TextDelta(" small"),
        TextDelta(" words"),
        UsageReport(
            input_tokens=120,
            output_tokens=40,
            cached_input_tokens=100,
            reasoning_tokens=30,
            cost_usd=0.00123,
            cache_write_tokens=8,
        ),
        Finished("stop"),
    ]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_stream_keeps_line_separator_characters_inside_the_answer(fake_server, kind: str):
    # U+2028, U+2029 and U+0085 are text inside a JSON string; only CR and LF end an SSE line
    fake_server.script(answer="one\u2028two \u2029three\x85four")
    events = list(provider(fake_server, kind).stream(request()))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "one\u2028two \u2029three\x85four"
    assert isinstance(events[-1], Finished)


def test_sse_lines_split_on_cr_lf_and_crlf_only_even_across_chunks():
    chunks = ["data: a\r", "\ndata: b\u2028c\rdata: d\x85e\n\r", "\n", "data: torn"]
    assert list(sse_lines(chunks)) == [
        "data: a",
        "data: b\u2028c",
        "data: d\x85e",
        "",
        "data: torn",
    ]


def test_anthropic_stream_usage_counts_cache_reads_in_input(fake_server):
    # wire: input_tokens=20 (uncached) + cache_read 90 + cache_creation 10 -> 120 prompt tokens
    fake_server.script(
        answer="Hi there",
        input_tokens=120,
        output_tokens=9,
        cached_tokens=90,
        cache_write_tokens=10,
    )
    events = list(provider(fake_server, "anthropic").stream(request()))
    assert events == [
        TextDelta("Hi"),
        TextDelta(" there"),
        UsageReport(
            input_tokens=120, output_tokens=9, cached_input_tokens=90, cache_write_tokens=10
        ),
        Finished("stop"),
    ]


@pytest.mark.parametrize("kind", WIRES)
def test_multiline_data_comments_and_pings_are_handled(fake_server, kind):
    fake_server.script(answer="split over lines", multiline=True)
    events = list(provider(fake_server, kind).stream(request()))
    assert text_of(events) == "split over lines"
    assert isinstance(events[-1], Finished)


@pytest.mark.parametrize("kind", WIRES)
def test_length_finish_is_normalised(fake_server, kind):
    fake_server.script(answer="truncated", finish_reason="length")
    events = list(provider(fake_server, kind).stream(request()))
    assert events[-1] == Finished("length")


def test_no_usage_reported_means_no_usage_event(fake_server):
    fake_server.script(answer="quiet", usage=False)
    events = list(provider(fake_server, "openai").stream(request()))
    assert events == [TextDelta("quiet"), Finished("stop")]


# -- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", WIRES)
def test_429_with_retry_after(fake_server, kind):
    fake_server.script([status(429, retry_after=7)])
    exc = failure_of(provider(fake_server, kind))
    assert isinstance(exc, RateLimited)
    assert exc.retryable and exc.fallback
    assert exc.retry_after == 7.0
    assert exc.status == 429
    assert str(exc) == "fake: rate limited (429): Rate limit exceeded"


@pytest.mark.parametrize("code", [500, 502, 503, 529])
@pytest.mark.parametrize("kind", WIRES)
def test_server_errors_are_retryable(fake_server, kind, code):
    fake_server.script([status(code)])
    exc = failure_of(provider(fake_server, kind))
    assert isinstance(exc, ServerError)
    assert exc.retryable
    assert exc.summary.startswith(str(code))


@pytest.mark.parametrize("code", [401, 403])
@pytest.mark.parametrize("kind", WIRES)
def test_auth_error_names_the_variable_never_the_key(fake_server, kind, code):
    # the provider echoes the key back, as some do: it must be scrubbed
    fake_server.script([status(code, f"Incorrect API key provided: {KEY}")])
    exc = failure_of(provider(fake_server, kind))
    assert isinstance(exc, AuthError)
    assert not exc.retryable and not exc.fallback
    assert "FAKE_API_KEY" in str(exc)
    assert "Incorrect API key provided: ***" in str(exc)
    assert_no_key(exc)


@pytest.mark.parametrize("code", [400, 404, 422])
@pytest.mark.parametrize("kind", WIRES)
def test_bad_request_shows_the_provider_message(fake_server, kind, code):
    fake_server.script([status(code, "max_tokens: 999999 > 8192, the maximum for this model")])
    exc = failure_of(provider(fake_server, kind))
    assert isinstance(exc, BadRequest)
    assert not exc.retryable and not exc.fallback
    assert "max_tokens: 999999 > 8192, the maximum for this model" in str(exc)
    assert_no_key(exc)


def test_quota_errors_fall_back_without_retry(fake_server):
    p = provider(fake_server, "openai")
    fake_server.script([status(402), status(429, "quota", error_code="insufficient_quota")])
    for _ in range(2):
        exc = failure_of(p)
        assert isinstance(exc, QuotaExceeded)
        assert exc.fallback and not exc.retryable


@pytest.mark.parametrize("kind", WIRES)
def test_read_timeout_before_first_byte(fake_server, kind):
    fake_server.script([read_timeout(2.0)])
    exc = failure_of(
        provider(fake_server, kind, timeouts=Timeouts(connect=1, first_byte=0.3, idle=0.3))
    )
    assert isinstance(exc, ReadTimeout)
    # the request reached the provider: the next candidate may be tried, this one not again
    assert exc.fallback and exc.maybe_billed and not exc.retryable
    assert "0.3 s" in str(exc)
    assert_no_key(exc)


@pytest.mark.parametrize("kind", WIRES)
def test_connection_reset_before_first_byte(fake_server, kind):
    fake_server.script([reset()])
    exc = failure_of(provider(fake_server, kind))
    assert isinstance(exc, ConnectionReset)
    assert exc.retryable
    assert_no_key(exc)


@pytest.mark.parametrize("kind", WIRES)
def test_cut_after_tokens_keeps_partial_text(fake_server, kind):
    fake_server.script([cut(after_chunks=2)], answer="one two three four")
    seen: list[str] = []
    with pytest.raises(StreamInterrupted) as info:
        for event in provider(fake_server, kind).stream(request()):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    exc = info.value
    assert exc.partial_text == "one two" == "".join(seen)
    assert not exc.retryable and not exc.fallback
    assert "cut off after 7 characters (connection closed)" in str(exc)
    assert_no_key(exc)


@pytest.mark.parametrize("kind", WIRES)
def test_cut_before_first_token_is_a_reset(fake_server, kind):
    fake_server.script([cut(after_chunks=0)])
    exc = failure_of(provider(fake_server, kind))
    assert isinstance(exc, ConnectionReset)
    assert exc.partial_text == ""


@pytest.mark.parametrize("kind", WIRES)
def test_silence_mid_stream_is_a_cut(fake_server, kind):
    fake_server.script([stall(after_chunks=1, delay=3.0)], answer="first second")
    exc = failure_of(
        provider(fake_server, kind, timeouts=Timeouts(connect=1, first_byte=0.3, idle=0.3))
    )
    assert isinstance(exc, StreamInterrupted)
    assert exc.partial_text == "first"
    assert "no data for 0.3 s" in str(exc)


@pytest.mark.parametrize("kind", WIRES)
def test_malformed_event(fake_server, kind):
    fake_server.script([malformed(after_chunks=0), malformed(after_chunks=1)], answer="a b c")
    p = provider(fake_server, kind)
    first = failure_of(p)
    assert isinstance(first, MalformedResponse)
    assert "invalid JSON in stream event" in str(first)
    assert first.fallback and not first.retryable
    second = failure_of(p)
    assert isinstance(second, StreamInterrupted)
    assert second.partial_text == "a"


@pytest.mark.parametrize("kind", WIRES)
def test_error_event_inside_the_stream(fake_server, kind):
    fake_server.script([stream_error(after_chunks=0), stream_error(after_chunks=2)], answer="x y z")
    p = provider(fake_server, kind)
    first = failure_of(p)
    assert isinstance(first, ServerError)
    assert "Upstream provider overloaded" in str(first)
    second = failure_of(p)
    assert isinstance(second, StreamInterrupted)
    assert second.partial_text == "x y"
    assert "Upstream provider overloaded" in str(second)


def test_connect_refused():
    with socket_free_port() as port:
        cfg = ProviderConfig("local", "openai", f"http://127.0.0.1:{port}/v1", None)
    exc = failure_of(make_provider(cfg, timeouts=FAST))
    assert isinstance(exc, ConnectFailed)
    assert exc.retryable
    assert f"127.0.0.1:{port}" in str(exc)


def test_credentials_in_a_base_url_are_not_shown():
    with socket_free_port() as port:
        url = f"http://user:{KEY}@127.0.0.1:{port}/v1"
    exc = failure_of(make_provider(ProviderConfig("lab", "openai", url, None), timeouts=FAST))
    assert isinstance(exc, ConnectFailed)
    assert_no_key(exc)


def test_provider_and_config_repr_hide_the_key(fake_server):
    p = provider(fake_server, "openai", headers={"X-Token": "hdr-secret-value"})
    assert KEY not in repr(p) and KEY not in repr(p.cfg) and KEY not in str(p.cfg)
    assert "hdr-secret-value" not in repr(p.cfg)
    assert "key=<set>" in repr(p.cfg)


def test_json_answer_to_a_stream_request_is_accepted():
    body = {
        "choices": [{"index": 0, "message": {"content": "plain"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    transport = httpx.MockTransport(lambda req: httpx.Response(200, json=body))
    cfg = ProviderConfig("mock", "openai", "http://mock/v1", None)
    events = list(make_provider(cfg, transport=transport).stream(request()))
    assert events == [TextDelta("plain"), UsageReport(3, 1), Finished("stop")]


# -- small pieces ---------------------------------------------------------------------------------


def test_sse_framing():
    lines = [
        ": OPENROUTER PROCESSING",
        "",
        "event: ping",
        "data: {}",
        "",
        "data: first",
        "data:second",
        "id: 7",
        "",
        "data: torn",  # no blank line: the stream ended mid-event
    ]
    assert list(iter_sse(lines)) == [SSEvent("ping", "{}"), SSEvent("message", "first\nsecond")]


def test_parse_retry_after_forms():
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480) == 10
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


# -- the fake server as a subprocess ----------------------------------------------------------


class socket_free_port:
    """A port that was free a moment ago (nothing listens on it)."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return self._sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


# -- registry ---------------------------------------------------------------------------------


def spec(model_id: str, **provider_ids: str) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        name=model_id,
        vendor="test",
        context_window=100_000,
        max_output_tokens=8192,
        price=Price(1.0, 2.0, None, "test", "2025-01-01"),
        provider_ids=provider_ids,
        skills={},
    )


def names(cfgs) -> list[str]:
    return [c.name for c in cfgs]


def test_presets_need_their_key_env_first_then_keys_file():
    keys_file = {"ANTHROPIC_API_KEY": "from-file", "OPENAI_API_KEY": "file-openai"}
    env = {"OPENAI_API_KEY": "from-env"}
    cfgs = configured_providers(None, keys_file.get, env)
    assert names(cfgs) == ["anthropic", "openai"]
    assert cfgs[0].key == "from-file"
    assert cfgs[1].key == "from-env"
    assert cfgs[0].base_url == "https://api.anthropic.com"


def test_no_keys_no_providers():
    assert configured_providers(None, lambda v: None, {}) == []


def test_all_presets_in_order_with_env_overrides():
    env = {
        "OPENROUTER_API_KEY": "a",
        "ANTHROPIC_API_KEY": "b",
        "ANTHROPIC_BASE_URL": "http://proxy:8080",
        "OPENAI_API_KEY": "c",
        "OPENAI_BASE_URL": "http://vllm:8000/v1",
        "OLLAMA_HOST": "0.0.0.0:11500",
    }
    cfgs = configured_providers(None, lambda v: None, env)
    assert names(cfgs) == ["openrouter", "anthropic", "openai", "ollama"]
    by = {c.name: c for c in cfgs}
    assert by["openrouter"].base_url == "https://openrouter.ai/api/v1"
    assert by["anthropic"].base_url == "http://proxy:8080"
    assert by["openai"].base_url == "http://vllm:8000/v1"
    assert by["openai"].max_tokens_field == "max_tokens"  # not api.openai.com
    assert by["ollama"].base_url == "http://127.0.0.1:11500/v1"
    assert by["ollama"].key is None and by["ollama"].zero_price


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:11434/v1"),
        ("0.0.0.0", "http://127.0.0.1:11434/v1"),
        ("gpu-box:9000", "http://gpu-box:9000/v1"),
        ("http://gpu-box:11434/", "http://gpu-box:11434/v1"),
        ("https://ollama.example.com", "https://ollama.example.com:443/v1"),
        ("[::1]:11434", "http://[::1]:11434/v1"),
    ],
)
def test_ollama_host_forms(host, url):
    assert ollama_base_url(host) == url


def test_ollama_only_when_host_set_or_configured():
    assert configured_providers(None, lambda v: None, {}) == []
    [cfg] = configured_providers({"ollama": {}}, lambda v: None, {})
    assert cfg.base_url == "http://127.0.0.1:11434/v1"
    [cfg] = configured_providers({"ollama": {"enabled": True}}, lambda v: None, {})
    [cfg] = configured_providers(None, lambda v: None, {"OLLAMA_HOST": "box"})
    assert cfg.base_url == "http://box:11434/v1"
    off = {"ollama": {"enabled": False}}
    assert configured_providers(off, lambda v: None, {"OLLAMA_HOST": "box"}) == []
    remote = {"ollama": {"base_url": "http://gpu:11434/v1"}}
    [cfg] = configured_providers(remote, lambda v: None, {"OLLAMA_HOST": "box"})
    assert cfg.base_url == "http://gpu:11434/v1"  # config wins over the environment


def test_settings_shape_from_settings_module_is_accepted():
    # tables as Settings.providers_as_dicts() may give them: None for "not set", a builtin flag
    settings = {
        "openrouter": {"enabled": True, "base_url": None, "key_env": "OPENROUTER_API_KEY",
                       "models": {}, "builtin": True},
        "anthropic": {"enabled": False, "base_url": None, "key_env": "ANTHROPIC_API_KEY",
                      "models": {}, "builtin": True},
        "lab": {"enabled": True, "base_url": "http://lab:8000/v1", "key_env": None,
                "models": {"qwen-coder": "Qwen/Qwen2.5-Coder"}, "builtin": False},
    }  # fmt: skip
    env = {"OPENROUTER_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2"}
    cfgs = configured_providers(settings, lambda v: None, env, order=["openrouter"])
    assert names(cfgs) == ["openrouter", "lab"]  # anthropic disabled; order puts openrouter first
    lab = cfgs[1]
    assert (lab.kind, lab.key_env, lab.key, lab.origin) == ("openai", None, None, "config")
    assert dict(lab.model_map) == {"qwen-coder": "Qwen/Qwen2.5-Coder"}


def test_custom_endpoint_with_missing_key_is_not_configured():
    settings = {"lab": {"base_url": "http://lab/v1", "key_env": "LAB_KEY"}}
    assert configured_providers(settings, lambda v: None, {}) == []
    [cfg] = configured_providers(settings, {"LAB_KEY": "s3"}.get, {})
    assert cfg.key == "s3" and names([cfg]) == ["lab"]


def test_custom_endpoints_come_before_presets():
    settings = {"lab": {"base_url": "http://lab/v1", "kind": "anthropic", "free": True}}
    cfgs = configured_providers(settings, lambda v: None, {"OPENROUTER_API_KEY": "k"})
    assert names(cfgs) == ["lab", "openrouter"]
    assert cfgs[0].kind == "anthropic" and cfgs[0].zero_price


def test_reachable_models_first_provider_wins():
    catalogue = {
        "sonnet": spec("sonnet", openrouter="anthropic/claude-sonnet-4.5", anthropic="claude-s"),
        "gpt": spec("gpt", openai="gpt-5"),
        "qwen": spec("qwen", ollama="qwen2.5-coder:7b"),
        "mine": spec("mine"),
    }
    settings = {"lab": {"base_url": "http://lab/v1", "models": {"mine": "my-model"}}}
    env = {"ANTHROPIC_API_KEY": "a", "OPENROUTER_API_KEY": "o"}
    cfgs = configured_providers(settings, lambda v: None, env)
    assert reachable_models(catalogue, cfgs) == {"sonnet": "openrouter", "mine": "lab"}
    assert provider_model_id(catalogue["mine"], cfgs[0]) == "my-model"
    assert provider_model_id(catalogue["sonnet"], cfgs[2]) == "claude-s"
    assert provider_model_id(catalogue["gpt"], cfgs[2]) is None


def test_make_provider_picks_the_wire_format():
    assert type(make_provider(ProviderConfig("a", "anthropic", "http://x", None))).__name__ == (
        "AnthropicProvider"
    )
    assert type(make_provider(ProviderConfig("o", "openai", "http://x/v1", None))).__name__ == (
        "OpenAICompatProvider"
    )
    with pytest.raises(ConfigError, match="unknown kind"):
        make_provider(ProviderConfig("g", "grpc", "http://x", None))


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('{"error": {"message": "bad model", "code": "model_not_found"}}', "bad model"),
        ('{"type": "error", "error": {"type": "x", "message": "anthropic"}}', "anthropic"),
        ('{"object": "error", "message": "from vllm"}', "from vllm"),
        ('{"error": "from ollama"}', "from ollama"),
        (
            '{"error": {"code": 502, "message": "Provider returned error",'
            ' "metadata": {"raw": "upstream said no"}}}',
            "Provider returned error: upstream said no",
        ),
        ("<html>\n  Bad   Gateway\n</html>", "<html> Bad Gateway </html>"),
    ],
)
def test_provider_message_shapes(body, said):
    assert provider_message(body)[0] == said


def test_tls_only_where_needed(monkeypatch):
    for var in ("https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    assert not _needs_tls("http://127.0.0.1:11434/v1")
    assert _needs_tls("https://openrouter.ai/api/v1")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert _needs_tls("http://127.0.0.1:11434/v1")
    assert shared_ssl_context() is shared_ssl_context()
