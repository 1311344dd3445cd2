"""cost.py: token estimates, cost maths, the genai-prices fallback and the USD display."""

from __future__ import annotations

import time

import pytest

from kilocli.routing.cost import (
    count_tokens,
    estimate_cost,
    format_usd,
    resolve_price,
    usage_cost,
)
from kilocli.routing.pools import ModelSpec, Price

# Reference counts from OpenAI's cl100k_base BPE (tiktoken), measured once while calibrating.
SAMPLES = {
    "prose": (
        58,
        "When the classifier is unsure between two task buckets, the router does not guess: it "
        "uses the tier's fallback model, which is known to be good enough for most requests. A "
        "session keeps its model while that model still meets the bar, because switching throws "
        "away the provider's prompt cache.",
    ),
    "code": (
        87,
        "def parse(line: str) -> dict[str, int]:\n"
        '    """Split `key=value` pairs separated by commas."""\n'
        "    out: dict[str, int] = {}\n"
        '    for part in line.split(","):\n'
        '        key, _, value = part.partition("=")\n'
        "        if not key.strip():\n"
        '            raise ValueError(f"empty key in {line!r}")\n'
        "        out[key.strip()] = int(value or 0)\n"
        "    return out\n",
    ),
    "json": (
        111,
        '{"name": "kilocli", "version": "0.1.0", "sha256": '
        '"9f2c4e1b7a0d3f5e8c6b2a19d4e7f0c3b5a8d1e2f4c6b9a0d3e5f7c1b2a4d6e8", '
        '"sizes": [1024, 2048, 4096, 8192], "ok": true}',
    ),
    "traceback": (
        60,
        "Traceback (most recent call last):\n"
        '  File "/home/me/app/main.py", line 42, in <module>\n'
        "    main()\n"
        '  File "/home/me/app/main.py", line 37, in main\n'
        '    result = compute(data["items"][3])\n'
        "KeyError: 'items'\n",
    ),
}


def spec(price: Price, providers: dict[str, str] | None = None) -> ModelSpec:
    return ModelSpec(
        id="m",
        name="M",
        vendor="test",
        context_window=100_000,
        max_output_tokens=8_000,
        price=price,
        provider_ids=providers if providers is not None else {"nowhere": "m-1"},
        skills={},
    )


def p(inp: float | None, out: float | None, cached: float | None = None) -> Price:
    return Price(inp, out, cached, "test", "2026-11-26")


# -- count_tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_token_estimate_is_within_20_percent_of_a_real_bpe(kind):
    expected, text = SAMPLES[kind]
    assert abs(count_tokens(text) - expected) <= 0.2 * expected


def test_token_estimate_follows_the_text_not_just_its_length():
    # same length; hex and digits split into many more tokens than English words
    words = "the model reads the file and writes the answer back " * 20
    digest = ("9f2c4e1b7a0d3f5e8c6b2a19d4e7f0c3b5a8d1e2f4c6b9a0d3e5f7c1b2a4d6e8" * 20)[: len(words)]
    assert count_tokens(digest) > 2 * count_tokens(words)


def test_token_estimate_edge_cases():
    assert count_tokens("") == 0
    assert count_tokens(" ") == 1  # never 0 for something that will be sent
    assert count_tokens("修复这个函数中的错误") >= 7  # CJK: about one token per character
    assert count_tokens("x" * 4000) < count_tokens("x " * 4000)
    assert count_tokens("\ud800 lone surrogate") >= 2  # does not raise


def test_token_estimate_costs_microseconds_for_ten_kilobytes():
    text = (SAMPLES["code"][1] + SAMPLES["prose"][1]) * 20
    text = text[:10_000]
    count_tokens(text)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        count_tokens(text)
        times.append(time.perf_counter() - start)
    times.sort()
    assert times[len(times) // 2] < 0.001


# -- estimate_cost -----------------------------------------------------------------------------


def test_estimate_is_tokens_times_price_per_million():
    assert estimate_cost(p(3.0, 15.0), 10_000, 2_000) == pytest.approx(0.03 + 0.03)


def test_cached_input_is_billed_at_the_cached_price_and_is_part_of_input():
    # 10,000 prompt tokens of which 8,000 cache reads: 2,000 x 3 + 8,000 x 0.3 (+ no output)
    assert estimate_cost(p(3.0, 15.0, 0.3), 10_000, 0, 8_000) == pytest.approx(0.0084)
    # no cached price given: cache reads cost the input price
    assert estimate_cost(p(3.0, 15.0), 10_000, 0, 8_000) == pytest.approx(0.03)
    # more cached than input: clamped to the input
    assert estimate_cost(p(3.0, 15.0, 0.3), 1_000, 0, 5_000) == pytest.approx(0.0003)


def test_unknown_price_gives_none_and_zero_price_gives_zero():
    assert estimate_cost(p(None, 15.0), 1_000, 1_000) is None
    assert estimate_cost(p(3.0, None), 1_000, 1_000) is None
    assert estimate_cost(p(0.0, 0.0), 1_000, 1_000) == 0.0
    # a price is only needed for tokens that are billed
    assert estimate_cost(p(3.0, None), 1_000, 0) == pytest.approx(0.003)
    with pytest.raises(ValueError):
        estimate_cost(p(1.0, 1.0), -1, 0)


# -- usage_cost --------------------------------------------------------------------------------


def test_provider_reported_cost_wins():
    m = spec(p(3.0, 15.0))
    assert usage_cost(m, 1_000, 1_000, provider_reported=0.5) == 0.5
    assert usage_cost(m, 1_000, 1_000, provider_reported=0.0) == 0.0
    assert usage_cost(m, 1_000, 1_000) == pytest.approx(0.018)
    assert usage_cost(spec(p(None, None)), 1_000, 1_000) is None


def test_reasoning_tokens_are_billed_as_output_exactly_once():
    m = spec(p(1.0, 10.0))
    # reasoning is part of output_tokens (OpenAI, OpenRouter, Anthropic): not added again
    assert usage_cost(m, 0, 1_000, reasoning_tokens=800) == pytest.approx(0.01)
    # a reasoning count above the output count was reported beside it: both are billed
    assert usage_cost(m, 0, 100, reasoning_tokens=900) == pytest.approx(0.01)


def test_cached_usage_is_billed_at_the_cached_price():
    m = spec(p(2.0, 8.0, 0.5))
    assert usage_cost(m, 10_000, 0, cached_input_tokens=10_000) == pytest.approx(0.005)


# -- genai-prices fallback ---------------------------------------------------------------------


def test_known_pool_price_is_used_as_is():
    price = p(3.0, 15.0, 0.3)
    assert resolve_price(spec(price, {"openai": "gpt-5"})) is price


def test_unknown_price_falls_back_to_genai_prices_by_provider_model_id():
    m = spec(p(None, None), {"nowhere": "x", "openai": "gpt-5"})
    price = resolve_price(m)
    assert (price.input, price.output, price.cached_input) == (1.25, 10.0, 0.125)
    assert price.source.startswith("genai-prices ")
    assert usage_cost(m, 1_000_000, 0) == pytest.approx(1.25)


def test_genai_tiered_prices_follow_the_prompt_size():
    m = spec(p(None, None), {"anthropic": "claude-sonnet-4-5"})
    assert resolve_price(m, 10_000).input == 3.0
    assert resolve_price(m, 250_000).input == 6.0  # over 200k, every token at the higher rate


def test_unknown_everywhere_stays_unpriced():
    m = spec(p(None, None), {"openai": "no-such-model-xyz", "nowhere": "m"})
    assert resolve_price(m).input is None
    assert usage_cost(m, 1_000, 1_000) is None


# -- format_usd --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        (None, "unpriced"),
        (0.0, "$0.00"),
        (0.00042, "$0.00042"),
        (0.000423456, "$0.0004235"),
        (0.0123456, "$0.01235"),
        (0.5, "$0.50"),
        (0.1, "$0.10"),
        (0.99999, "$1.00"),
        (12.345, "$12.35"),  # binary 12.345 is a hair above
        (1234.5, "$1,234.50"),
        (-0.0021, "-$0.0021"),
        (1e-9, "$0.000000001"),
    ],
)
def test_format_usd(usd, shown):
    assert format_usd(usd) == shown


def test_tiny_but_nonzero_cost_is_never_shown_as_zero():
    assert format_usd(0.000004) != "$0.00"
    assert format_usd(float("nan")) == "unpriced"


def test_degenerate_text_is_not_estimated_as_one_token():
    # one long punctuation run used to count as a single token, so caps and context checks failed
    assert count_tokens("!?" * 260_000) >= 520_000 // 6
    assert count_tokens("=" * 6_000) >= 1_000
    # ordinary text is untouched by the floor
    prose = "Rename the variable tmp to total in utils.py and update the call sites. " * 20
    assert count_tokens(prose) > len(prose.encode()) / 6


def test_catalogue_prices_citing_genai_prices_match_the_installed_data():
    """A dependency bump that changes a price fails here instead of silently diverging."""
    from kilocli.routing.cost import _flatten, _genai_model_price
    from kilocli.routing.pools import load_catalogue

    checked = writes = 0
    drift = []
    for spec in load_catalogue().models.values():
        if "genai-prices" not in spec.price.source or spec.free or spec.status == "deprecated":
            continue
        found = None
        for provider, model_id in spec.provider_ids.items():
            data = _genai_model_price(provider, model_id)
            if data is not None:
                found = _flatten(data, 1_000, provider, model_id)
                break
        assert found is not None, f"{spec.id}: cites genai-prices, which no longer knows it"
        for field in ("input", "output"):
            ours, theirs = getattr(spec.price, field), getattr(found, field)
            if ours is None or theirs is None or abs(ours - theirs) > 1e-9:
                drift.append(f"{spec.id}.{field}: catalogue {ours} vs genai-prices {theirs}")
        # a cache-write rate on either side must be on both, and equal
        ours, theirs = spec.price.cache_write, found.cache_write
        if (ours is None) != (theirs is None) or (
            ours is not None and theirs is not None and abs(ours - theirs) > 1e-9
        ):
            drift.append(f"{spec.id}.cache_write: catalogue {ours} vs genai-prices {theirs}")
        writes += ours is not None
        checked += 1
    assert checked >= 10
    assert writes >= 3  # the Anthropic models
    assert not drift, "; ".join(drift)


def test_max_cost_math():
    from kilocli.routing.cost import max_output_within
    from kilocli.routing.pools import Price

    price = Price(1.25, 10.0, 0.125, "test", "2026-12-01")
    assert max_output_within(0.005, price, 1_000) == 375  # (0.005 - 0.00125) / 0.00001
    assert max_output_within(0.001, price, 1_000) == 0
    assert max_output_within(0.005, Price(None, 10.0, None, "t", "2026-12-01"), 10) is None
