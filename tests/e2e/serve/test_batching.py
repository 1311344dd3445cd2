"""kilo serve's routing queue (kilocli/serve/batching.py): requests waiting while a batch is routed
go together, their turns embedded in one encoder call, each decided as it would be alone. The real
MiniLM encoder and classifier throughout (the `kilo` fixture's home shares the warmed cache); the
end-to-end test bursts the real `kilo serve` with the official OpenAI SDK."""

from __future__ import annotations

import functools
import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import replace

import openai
import pytest
from fakeserver import FakeServer
from serving import ServeProcess

from kilocli.routing.classifier import Classifier
from kilocli.routing.decision import Decision
from kilocli.serve.batching import RouteBatcher, RoutingBusy

TIER = "auto-efficient"
PASTE = "```\n" + "\n".join(f"    value_{i} = compute({i}) + offset" for i in range(30)) + "\n```"
# different conversations: one-turn asks, a session with a terse follow-up, a long paste under a
# short ask, and a turn two conversations share (it is embedded once)
CONVERSATIONS: list[list[str]] = [
    ["rename foo to bar in utils.py"],
    ["design a sharded job queue with exactly-once delivery across regions"],
    ["why does this crash?\n" + PASTE],
    ["write a parser for the config format", "ok now the edge cases"],
    ["write a parser for the config format", "add type hints to it"],
    ["what does git rebase --onto do"],
    ["hi"],
    ["explain the retry loop in client.py", "still failing with a timeout", "and now?"],
]


class CountingEncoder:
    """The real encoder, counting its calls and the texts it is given."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.name = inner.name
        self.calls = 0
        self.texts = 0

    def encode(self, texts, max_tokens=256):
        self.calls += 1
        self.texts += len(texts)
        return self.inner.encode(texts, max_tokens=max_tokens)


@pytest.fixture
def app(kilo):
    """A loaded App in the `kilo` fixture's home (warmed encoder and centroid cache)."""
    from kilocli.app import App

    return App.load()


def _router(app):
    return app.router(personal=False)


def _hold(batcher: RouteBatcher) -> threading.Event:
    """Keep the worker busy until the returned event is set, so that later jobs queue up."""
    gate, started = threading.Event(), threading.Event()

    def block() -> str:
        started.set()
        assert gate.wait(30)
        return "held"

    batcher.submit([], block)
    assert started.wait(30)
    return gate


def _same_decision(batched: Decision, alone: Decision) -> None:
    """Equal in every field; the probabilities to 1e-5 (an encoder run over several rows differs
    from one over a single row in the last bits of a float, as any batch does)."""

    def rounded(d: Decision) -> Decision:
        return replace(d, task_probs={}, difficulty_probs={}, margin=0.0, difficulty_margin=0.0)

    assert rounded(batched) == rounded(alone)
    for a, b in (
        (batched.task_probs, alone.task_probs),
        (batched.difficulty_probs, alone.difficulty_probs),
    ):
        assert a.keys() == b.keys()
        assert a == pytest.approx(b, abs=1e-5)
    assert batched.margin == pytest.approx(alone.margin, abs=1e-5)
    assert batched.difficulty_margin == pytest.approx(alone.difficulty_margin, abs=1e-5)


def test_a_batch_of_conversations_decides_as_each_alone_with_one_encoder_call(app):
    alone_router = _router(app)
    alone = [alone_router.decide(turns, tier=TIER) for turns in CONVERSATIONS]

    router = _router(app)  # a fresh classifier: nothing in its memo
    router.warm()
    counting = CountingEncoder(router.classifier.encoder)
    router.classifiers._base = router.classifiers._classifier = Classifier(
        counting, router.classifier.model
    )
    batcher = RouteBatcher(lambda texts: router.classifier.prefetch(texts))
    try:
        gate = _hold(batcher)
        futures = [
            batcher.submit(turns, functools.partial(router.decide, turns, tier=TIER))
            for turns in CONVERSATIONS
        ]
        gate.set()
        batched = [f.result(60) for f in futures]
    finally:
        batcher.close()
    assert (batcher.batches, batcher.largest) == (2, len(CONVERSATIONS))  # the holder, then all
    distinct = {t for turns in CONVERSATIONS for t in turns}
    # one call for every ask's words and one for the paste (embedded apart, in a smaller window)
    assert counting.calls == 2 and counting.texts == len(distinct) + 1
    for b, a in zip(batched, alone, strict=True):
        _same_decision(b, a)
    assert len({(d.task, d.difficulty) for d in batched}) > 2  # the conversations do differ


def test_an_idle_queue_takes_a_lone_request_at_once(app):
    router = _router(app)  # not warmed: the worker loads the classifier on first need
    batcher = RouteBatcher(lambda texts: router.classifier.prefetch(texts))
    try:
        first = batcher.submit(["fix the typo in README"], lambda: "one").result(60)
        second = batcher.submit(["fix the typo in README"], lambda: "two").result(60)
    finally:
        batcher.close()
    assert (first, second) == ("one", "two")
    assert (batcher.batches, batcher.largest) == (2, 1)  # each went alone, none waited for more


def test_batches_are_bounded_by_requests_and_by_texts():
    seen: list[list[str]] = []
    batcher = RouteBatcher(seen.append, max_batch=3, max_texts=4)
    try:
        gate = _hold(batcher)
        by_count = [batcher.submit([f"ask {i}"], lambda i=i: i) for i in range(7)]
        gate.set()
        assert [f.result(30) for f in by_count] == list(range(7))
        assert [len(s) for s in seen[1:]] == [3, 3, 1]  # max_batch: 7 requests -> 3 + 3 + 1

        seen.clear()
        gate = _hold(batcher)
        wide = [["a", "b", "c"], ["c", "d"], ["e"], ["f", "g", "h", "i", "j"]]
        by_texts = [batcher.submit(t, lambda t=t: len(t)) for t in wide]
        gate.set()
        assert [f.result(30) for f in by_texts] == [3, 2, 1, 5]
        # ["a".."d"] fit in 4 distinct texts; "e" would be a fifth; the wide one goes alone and
        # is not prefetched (over max_texts, it embeds its own turns)
        assert seen[1:] == [["a", "b", "c", "d"], ["e"]]
    finally:
        batcher.close()


def test_failures_stay_with_their_own_request():
    def broken_prefetch(texts: list[str]) -> None:
        raise RuntimeError("encoder down")

    batcher = RouteBatcher(broken_prefetch)
    try:
        gate = _hold(batcher)
        ok = batcher.submit(["a"], lambda: "fine")
        bad = batcher.submit(["b"], lambda: 1 / 0)
        skipped = batcher.submit(["c"], lambda: "never")
        assert skipped.cancel()  # a client gone before its batch starts: not routed at all
        after = batcher.submit(["d"], lambda: "still fine")
        gate.set()
        assert ok.result(30) == "fine" and after.result(30) == "still fine"
        with pytest.raises(ZeroDivisionError):
            bad.result(30)
        assert skipped.cancelled()
    finally:
        batcher.close()


def test_a_full_or_closed_queue_refuses_and_close_cancels_what_waits():
    batcher = RouteBatcher(lambda texts: None, max_pending=2)
    gate = _hold(batcher)
    waiting = [batcher.submit(["x"], lambda: 1), batcher.submit(["y"], lambda: 2)]
    with pytest.raises(RoutingBusy):
        batcher.submit(["z"], lambda: 3)
    closer = threading.Thread(target=batcher.close)
    closer.start()
    gate.set()  # the running job finishes; the queued ones are cancelled, not routed
    closer.join(30)
    assert not closer.is_alive()
    for future in waiting:
        with pytest.raises(CancelledError):
            future.result(5)
    with pytest.raises(RoutingBusy):
        batcher.submit(["w"], lambda: 4)


def test_a_burst_through_kilo_serve_routes_each_request_as_alone(app, kilo):
    prompts = [turns[-1] for turns in CONVERSATIONS if len(turns) == 1]
    prompts += [f"add a docstring to the function number {i} in parse.py" for i in range(10)]
    router = _router(app)
    expected = {p: router.decide([p], tier=TIER) for p in prompts}
    with FakeServer() as upstream:
        upstream.script(answer="done")
        env = {"OPENAI_API_KEY": "sk-upstream-0123456789", "OPENAI_BASE_URL": upstream.url}
        server = ServeProcess.start(kilo.home, env)
        try:
            client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)

            def ask(prompt: str):
                return client.chat.completions.with_raw_response.create(
                    model="kilo-auto",
                    messages=[{"role": "user", "content": prompt}],
                    stream=True,
                )

            with ThreadPoolExecutor(len(prompts)) as pool:
                responses = list(pool.map(ask, prompts))
            for prompt, raw in zip(prompts, responses, strict=True):
                text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
                assert text == "done"
                decision = expected[prompt]
                assert raw.headers["x-kilo-task"] == decision.task
                assert raw.headers["x-kilo-difficulty"] == decision.difficulty
                assert raw.headers["x-kilo-tier"] == TIER
                assert raw.headers["server-timing"].startswith("route;dur=")
        finally:
            assert server.stop() == 0, server.stderr


def test_two_workers_route_a_burst_and_both_take_batches():
    seen: list[list[str]] = []
    lock = threading.Lock()

    def prefetch(texts: list[str]) -> None:
        with lock:
            seen.append(texts)

    batcher = RouteBatcher(prefetch, workers=2, max_batch=4)
    try:
        first, second = _hold(batcher), _hold(batcher)  # both workers busy
        futures = [batcher.submit([f"ask {i}"], lambda i=i: i * i) for i in range(10)]
        first.set()
        second.set()
        assert [f.result(30) for f in futures] == [i * i for i in range(10)]
    finally:
        batcher.close()
    routed = sorted(t for texts in seen for t in texts)
    assert routed == sorted(f"ask {i}" for i in range(10))  # each prefetched exactly once
    assert batcher.largest <= 4
