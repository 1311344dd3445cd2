"""The retry/fallback loop over real HTTP: retries counted by the server, pauses recorded."""

from __future__ import annotations

import threading
import time

import pytest
from fakeserver import (
    FakeServer,
    bad_request,
    cut,
    cut_after_tool_calls,
    malformed,
    rate_limited,
    reset,
    stall,
    status,
    unauthorized,
)

from kilocli.providers.base import (
    ChatRequest,
    Finished,
    Message,
    ProviderConfig,
    TextDelta,
    Timeouts,
    ToolCallDelta,
    UsageReport,
)
from kilocli.providers.errors import (
    AuthError,
    BadRequest,
    ConnectFailed,
    RateLimited,
    ServerError,
    StreamInterrupted,
)
from kilocli.providers.runner import (
    Attempt,
    ProviderCache,
    plan_attempts,
    stream_with_fallback,
)
from kilocli.routing.pools import ModelSpec, Price

KEY = "sk-runner-SECRET-abcdef0123456789"
FAST = Timeouts(connect=1.0, first_byte=0.4, idle=0.4)


@pytest.fixture
def second_server():
    with FakeServer() as server:
        yield server


def attempt(server, model: str, *, name: str = "primary", kind: str = "openai") -> Attempt:
    cfg = ProviderConfig(name, kind, server.url, f"{name.upper()}_API_KEY", key=KEY)
    request = ChatRequest(model=model, messages=(Message("user", "hello"),), max_tokens=100)
    return Attempt(model_id=f"cat-{model}", provider=cfg, request=request)


class Recorder:
    def __init__(self) -> None:
        self.notices: list[str] = []
        self.sleeps: list[float] = []

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def run(attempts, rec: Recorder, **options):
    options.setdefault("timeouts", FAST)
    options.setdefault("jitter", lambda ceiling: ceiling)  # the ceiling itself: exact pauses
    return list(stream_with_fallback(attempts, on_notice=rec.notice, sleep=rec.sleep, **options))


def text_of(pairs) -> str:
    return "".join(e.text for _, e in pairs if isinstance(e, TextDelta))


def test_first_attempt_answers(fake_server):
    rec = Recorder()
    fake_server.script(answer="fine thanks")
    pairs = run([attempt(fake_server, "a")], rec)
    assert text_of(pairs) == "fine thanks"
    assert {a.model_id for a, _ in pairs} == {"cat-a"}
    assert isinstance(pairs[-2][1], UsageReport) and isinstance(pairs[-1][1], Finished)
    assert rec.notices == [] and rec.sleeps == []


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_retry_after_is_honoured(fake_server, kind):
    rec = Recorder()
    fake_server.script([rate_limited(retry_after=2)], answer="after the wait")
    pairs = run([attempt(fake_server, "a", name="openrouter", kind=kind)], rec)
    assert text_of(pairs) == "after the wait"
    assert len(fake_server.requests) == 2
    assert rec.sleeps == [2.0]
    assert rec.notices == ["openrouter: 429 rate limited; retrying in 2.0 s"]


def test_exponential_backoff_then_fallback(fake_server, second_server):
    rec = Recorder()
    fake_server.script([status(503), status(502), status(500)])
    second_server.script(answer="from the fallback")
    attempts = [attempt(fake_server, "a"), attempt(second_server, "b", name="backup")]
    pairs = run(attempts, rec, backoff_base=0.5)
    assert text_of(pairs) == "from the fallback"
    assert {a.model_id for a, _ in pairs} == {"cat-b"}
    assert len(fake_server.requests) == 3  # 1 try + max_retries=2
    assert len(second_server.requests) == 1
    assert rec.sleeps == [0.5, 1.0]
    assert rec.notices == [
        "primary: 503 server error; retrying in 0.5 s",
        "primary: 502 server error; retrying in 1.0 s",
        "falling back to cat-b via backup: primary 500 server error",
    ]


def test_backoff_is_capped(fake_server):
    rec = Recorder()
    fake_server.script([status(500)] * 3, answer="ok")
    run([attempt(fake_server, "a")], rec, max_retries=3, backoff_base=3.0, backoff_cap=4.0)
    assert rec.sleeps == [3.0, 4.0, 4.0]


def test_retry_after_beyond_the_cap_falls_back_at_once(fake_server, second_server):
    rec = Recorder()
    fake_server.script([rate_limited(retry_after=3600)])
    second_server.script(answer="no waiting")
    pairs = run([attempt(fake_server, "a"), attempt(second_server, "b")], rec)
    assert text_of(pairs) == "no waiting"
    assert rec.sleeps == []
    assert len(fake_server.requests) == 1
    assert rec.notices[0] == "primary: 429 rate limited; asked to wait 3600 s, more than 20 s"


def test_a_reset_is_retried_and_says_the_request_may_be_billed(fake_server):
    rec = Recorder()
    fake_server.script([reset()], answer="second time")
    pairs = run([attempt(fake_server, "a")], rec)
    assert text_of(pairs) == "second time"
    assert len(fake_server.requests) == 2
    assert rec.notices == [
        "primary: connection reset; retrying in 0.5 s "
        "(the provider may bill the request that failed too)"
    ]


def test_a_silent_provider_is_not_asked_again_but_the_fallback_is(fake_server, second_server):
    # the request was sent and the provider may be working on it (and billing it): no retry
    from fakeserver import read_timeout

    rec = Recorder()
    fake_server.script([read_timeout(3.0)], answer="late")
    second_server.script(answer="from the fallback")
    attempts = [attempt(fake_server, "a"), attempt(second_server, "b", name="backup")]
    limits = Timeouts(connect=1, first_byte=0.5, idle=5)
    started = time.monotonic()
    pairs = run(attempts, rec, timeouts=limits)
    assert text_of(pairs) == "from the fallback"
    assert time.monotonic() - started < 2.0
    assert len(fake_server.requests) == 1 and rec.sleeps == []
    assert rec.notices == [
        "falling back to cat-b via backup: primary timed out "
        "(not retried: the provider may bill the request that failed)"
    ]


def test_full_jitter_stays_under_the_exponential_ceiling(fake_server):
    from kilocli.providers.errors import ServerError
    from kilocli.providers.runner import backoff_delay

    failure = ServerError("boom")
    delays = [backoff_delay(failure, 2, base=0.5, cap=8.0, retry_after_cap=20) for _ in range(200)]
    assert all(0.0 <= d <= 2.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 150  # spread out, not one fixed pause
    assert min(delays) < 0.5 < 1.5 < max(delays)
    # a provider's Retry-After is honoured as given, never jittered
    limited = ServerError("slow down", retry_after=3.0)
    assert backoff_delay(limited, 0, base=0.5, cap=8.0, retry_after_cap=20) == 3.0
    assert backoff_delay(limited, 0, base=0.5, cap=8.0, retry_after_cap=2) is None


@pytest.mark.parametrize(
    ("fault", "error"), [(unauthorized(), AuthError), (bad_request("bad max_tokens"), BadRequest)]
)
def test_auth_and_bad_request_stop_at_once(fake_server, second_server, fault, error):
    rec = Recorder()
    fake_server.script([fault])
    with pytest.raises(error) as info:
        run([attempt(fake_server, "a"), attempt(second_server, "b")], rec)
    assert len(fake_server.requests) == 1
    assert second_server.requests == []
    assert rec.sleeps == [] and rec.notices == []
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    if error is AuthError:
        assert "PRIMARY_API_KEY" in str(info.value)
    else:
        assert "bad max_tokens" in str(info.value)


def test_cut_after_tokens_is_not_retried(fake_server, second_server):
    rec = Recorder()
    fake_server.script([cut(after_chunks=3)], answer="one two three four five")
    seen: list[str] = []
    with pytest.raises(StreamInterrupted) as info:
        for _, event in stream_with_fallback(
            [attempt(fake_server, "a"), attempt(second_server, "b")],
            on_notice=rec.notice,
            sleep=rec.sleep,
            timeouts=FAST,
        ):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert info.value.partial_text == "one two three" == "".join(seen)
    assert len(fake_server.requests) == 1 and second_server.requests == []
    assert rec.sleeps == []


def test_a_cut_after_tool_call_pieces_is_not_retried(fake_server, second_server):
    # a retry or a fallback would hand the caller the same tool call twice
    rec = Recorder()
    fake_server.script(
        [cut_after_tool_calls()], answer="", tool_calls=(("lookup", '{"city": "Oslo"}'),)
    )
    pieces: list[ToolCallDelta] = []
    with pytest.raises(StreamInterrupted) as info:
        for _, event in stream_with_fallback(
            [attempt(fake_server, "a"), attempt(second_server, "b")],
            on_notice=rec.notice,
            sleep=rec.sleep,
            timeouts=FAST,
        ):
            if isinstance(event, ToolCallDelta):
                pieces.append(event)
    assert [p.name for p in pieces if p.name] == ["lookup"]
    assert "".join(p.arguments for p in pieces) == '{"city": "Oslo"}'
    assert "3 tool-call pieces" in str(info.value)
    assert len(fake_server.requests) == 1 and second_server.requests == []
    assert rec.sleeps == []


def test_fallback_without_retry_for_malformed_and_quota(fake_server, second_server):
    rec = Recorder()
    fake_server.script([malformed()], model="a")
    fake_server.script([status(402)], model="b")
    second_server.script(answer="third model")
    attempts = [attempt(fake_server, "a"), attempt(fake_server, "b"), attempt(second_server, "c")]
    assert text_of(run(attempts, rec)) == "third model"
    assert [r.model for r in fake_server.requests] == ["a", "b"]
    assert rec.sleeps == []
    assert rec.notices == [
        "falling back to cat-b via primary: primary malformed response",
        "falling back to cat-c via primary: primary 402 out of credit",
    ]


def test_exhausted_raises_the_last_error_listing_what_was_tried(fake_server, second_server):
    rec = Recorder()
    fake_server.script([status(503)] * 3)
    second_server.script([rate_limited(1)] * 2)
    with pytest.raises(RateLimited) as info:
        run(
            [attempt(fake_server, "a"), attempt(second_server, "b", name="backup")],
            rec,
            max_retries=1,
        )
    message = str(info.value)
    assert message.startswith("backup: rate limited (429)")
    tried = "cat-a via primary: 2× 503 server error; cat-b via backup: 2× 429 rate limited"
    assert message.endswith(f"(tried {tried})")
    assert info.value.retry_after == 1.0
    assert KEY not in message


def test_unreachable_host_is_connect_failed_then_exhausted():
    rec = Recorder()
    cfg = ProviderConfig("ollama", "openai", "http://127.0.0.1:9/v1", None)
    request = ChatRequest(model="m", messages=(Message("user", "x"),))
    with pytest.raises(ConnectFailed, match=r"tried m via ollama: 3× cannot connect"):
        run([Attempt("m", cfg, request)], rec)
    assert rec.sleeps == [0.5, 1.0]


def test_cancel_during_a_silent_stream_returns_promptly(fake_server):
    fake_server.script([stall(after_chunks=1, delay=10.0)], answer="first then silence")
    cancel = threading.Event()
    seen: list[str] = []
    started = time.monotonic()
    for _, event in stream_with_fallback(
        [attempt(fake_server, "a")],
        on_notice=lambda s: None,
        cancel=cancel,
        timeouts=Timeouts(connect=1, first_byte=30, idle=30),
    ):
        if isinstance(event, TextDelta):
            seen.append(event.text)
            threading.Timer(0.1, cancel.set).start()
    assert seen == ["first"]
    assert time.monotonic() - started < 2.0


def test_cancel_during_a_backoff_pause(fake_server):
    fake_server.script([rate_limited(retry_after=10)], answer="never")
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    pairs = list(
        stream_with_fallback([attempt(fake_server, "a")], on_notice=lambda s: None, cancel=cancel)
    )
    assert pairs == []
    assert time.monotonic() - started < 2.0
    assert len(fake_server.requests) == 1


def test_errors_cross_the_cancel_worker_thread(fake_server):
    fake_server.script([unauthorized()])
    with pytest.raises(AuthError):
        list(
            stream_with_fallback(
                [attempt(fake_server, "a")], on_notice=lambda s: None, cancel=threading.Event()
            )
        )


def test_provider_cache_reuses_providers(fake_server):
    cache = ProviderCache(timeouts=FAST)
    first = attempt(fake_server, "a")
    try:
        for _ in range(2):
            list(stream_with_fallback([first], on_notice=lambda s: None, providers=cache))
        assert cache(first.provider) is cache(first.provider)
        assert len(fake_server.requests) == 2
    finally:
        cache.close()


def _spec(model_id: str, max_output: int, **provider_ids: str) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        name=model_id,
        vendor="t",
        context_window=100_000,
        max_output_tokens=max_output,
        price=Price(1.0, 2.0, None, "t", "2025-01-01"),
        provider_ids=provider_ids,
        skills={},
    )


def test_plan_attempts_orders_models_then_providers():
    catalogue = {
        "sonnet": _spec("sonnet", 64000, openrouter="anthropic/claude-sonnet-4.5", anthropic="cs"),
        "small": _spec("small", 2048, openrouter="vendor/small"),
    }
    providers = [
        ProviderConfig("openrouter", "openai", "http://or/v1", "OPENROUTER_API_KEY", key="k"),
        ProviderConfig("anthropic", "anthropic", "http://an", "ANTHROPIC_API_KEY", key="k"),
    ]
    base = ChatRequest(model="", messages=(Message("user", "x"),), max_tokens=4096)
    plan = plan_attempts(["sonnet", "missing", "small"], catalogue, providers, base)
    assert [(a.label, a.request.model, a.request.max_tokens) for a in plan] == [
        ("sonnet via openrouter", "anthropic/claude-sonnet-4.5", 4096),
        ("sonnet via anthropic", "cs", 4096),
        ("small via openrouter", "vendor/small", 2048),
    ]


def test_no_attempts_is_a_programming_error():
    with pytest.raises(ValueError):
        list(stream_with_fallback([], on_notice=lambda s: None))


def test_server_error_class_is_kept_when_exhausted(fake_server):
    fake_server.script([status(503)] * 3)
    with pytest.raises(ServerError):
        run([attempt(fake_server, "a")], Recorder())
