"""Token counting and cost: the only module that does pricing maths.

Prices are USD per million tokens (``Price``); ``None`` means unknown and is shown as "unpriced",
never as $0. Conventions, the same as ``providers.base.UsageReport``:

- ``input_tokens`` is every prompt token, cache reads and writes included; ``cached_input_tokens``
  is the part of it read from the provider's prompt cache, billed at the cached-input price (OpenAI
  and OpenRouter report it this way), ``cache_write_tokens`` the part written to it, billed at the
  cache-write price (Anthropic, also through OpenRouter).
- reasoning tokens are billed as output; they are part of ``output_tokens`` as OpenAI, OpenRouter
  and Anthropic report them.

Fallback prices: a model whose pool entry has no input or output price is looked up in
``genai-prices``' bundled snapshot (offline, no network) by its provider model ids. Importing it
costs about 150 ms and loading its data about 100 ms more, so it is imported lazily on that path
only and each lookup is cached; a pool with every price filled never imports it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from kilocli.routing.pools import ModelSpec, Price

PER_MILLION = 1_000_000

# -- token counting ------------------------------------------------------------------------------
# A linear model over character-class counts, fitted against OpenAI's cl100k_base BPE on ~700
# samples of code (Python, C, JS), prose (READMEs, docs, licences), data (JSON, CSV, TOML, hashes)
# and short chat turns. Held-out error: mean 8 %, 90th percentile 19 % (chars/4: 18 % and 39 %,
# and 39 % short on JSON/hashes). Other vendors' tokenizers differ by roughly 10-20 %. All counts
# come from C-level bytes.translate/count/split, so 10 kB costs about 0.1 ms.


def _class_table(pick: Any) -> bytes:
    return bytes(pick(chr(i)) if i < 128 else pick(None) for i in range(256))


# one byte per class: letter, digit, punctuation/symbol, newline, everything else -> space;
# bytes >= 128 (UTF-8 of non-ASCII text) -> "u"
_CLASSES = _class_table(
    lambda ch: (
        ord("u")
        if ch is None
        else ord("a")
        if ch.isalpha()
        else ord("0")
        if ch.isdigit()
        else ord("\n")
        if ch == "\n"
        else ord(" ")
        if ch.isspace()
        else ord(".")
    )
)
_LETTERS_ONLY = _class_table(lambda ch: ord("a") if ch is not None and ch.isalpha() else 32)
_DIGITS_ONLY = _class_table(lambda ch: ord("0") if ch is not None and ch.isdigit() else 32)
_PUNCT_ONLY = _class_table(
    lambda ch: ord(".") if ch is not None and not (ch.isalnum() or ch.isspace()) else 32
)

# tokens per: letter run, letter, digit run, digit, punctuation run, newline, non-ASCII byte
_W_LETTER_RUN = 0.420
_W_LETTER = 0.137
_W_DIGIT_RUN = 1.585
_W_DIGIT = 0.332
_W_PUNCT_RUN = 0.758
_W_NEWLINE = 0.856
_W_NON_ASCII_BYTE = 0.250


_MAX_BYTES_PER_TOKEN = 6  # see the floor in count_tokens


def count_tokens(text: str) -> int:
    """Estimated tokens of `text`, offline (no tokenizer download); at least 1 unless empty."""
    if not text:
        return 0
    raw = text.encode("utf-8", "surrogatepass")
    classes = raw.translate(_CLASSES)
    estimate = (
        _W_LETTER_RUN * len(raw.translate(_LETTERS_ONLY).split())
        + _W_LETTER * classes.count(b"a")
        + _W_DIGIT_RUN * len(raw.translate(_DIGITS_ONLY).split())
        + _W_DIGIT * classes.count(b"0")
        + _W_PUNCT_RUN * len(raw.translate(_PUNCT_ONLY).split())
        + _W_NEWLINE * classes.count(b"\n")
        + _W_NON_ASCII_BYTE * classes.count(b"u")
    )
    # a floor for degenerate text (520k characters of "!?" are one punctuation run above, but
    # hundreds of thousands of tokens to a real tokenizer): never under one token per 6 bytes,
    # which ordinary prose and code (3-5 bytes a token) never reach
    return max(1, round(max(estimate, len(raw) / _MAX_BYTES_PER_TOKEN)))


# -- cost --------------------------------------------------------------------------------------


def worst_input_rate(price: Price) -> float | None:
    """USD per million input tokens in the worst case: no cache hit, and the whole prompt written
    to the cache when that costs more than plain input (Anthropic: 1.25x)."""
    if price.input is None:
        return None
    return max(price.input, price.cache_write or 0.0)


def max_output_within(cap_usd: float, price: Price, input_tokens: int) -> int | None:
    """The most output tokens a call may produce and still cost at most ``cap_usd`` with
    ``input_tokens`` of input at the worst input rate (no cache hit, every token a cache write);
    None when the price is unknown or output is free (nothing to clamp)."""
    rate = worst_input_rate(price)
    if rate is None or price.output is None or price.output <= 0:
        return None
    room = cap_usd - input_tokens * rate / 1e6
    return max(0, math.floor(room / (price.output / 1e6) + 1e-9))  # 1e-9: float noise


def worst_case_cost(price: Price, input_tokens: int, max_output_tokens: int) -> float | None:
    """The most a call can cost: every input token at the worst input rate plus every output
    token it may write; None when a price it needs is unknown."""
    rate = worst_input_rate(price)
    if rate is None or price.output is None:
        return None
    return (input_tokens * rate + max_output_tokens * price.output) / PER_MILLION


def estimate_cost(
    price: Price,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> float | None:
    """USD for a call; None when a price this call needs is unknown (0.0 only for zero prices).

    `input_tokens` includes `cached_input_tokens` and `cache_write_tokens` (clamped to it): the
    first are billed at the cached-input price, the second at the cache-write price (each the
    input price when the pool gives none), the rest at the input price.
    """
    if min(input_tokens, output_tokens, cached_input_tokens, cache_write_tokens) < 0:
        raise ValueError("token counts must not be negative")
    cached = min(cached_input_tokens, input_tokens)
    written = min(cache_write_tokens, input_tokens - cached)
    fresh = input_tokens - cached - written
    cached_price = price.cached_input if price.cached_input is not None else price.input
    write_price = price.cache_write if price.cache_write is not None else price.input
    total = 0.0
    for tokens, usd_per_million in (
        (fresh, price.input),
        (cached, cached_price),
        (written, write_price),
        (output_tokens, price.output),
    ):
        if tokens == 0:
            continue
        if usd_per_million is None:
            return None
        total += tokens * usd_per_million
    return total / PER_MILLION


def usage_cost(
    model: ModelSpec,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    provider_reported: float | None = None,
    cache_write_tokens: int = 0,
) -> float | None:
    """Actual USD of a finished call; the provider's own figure (OpenRouter ``usage.cost``) wins.

    `reasoning_tokens` is the reasoning part of `output_tokens` (OpenAI, OpenRouter and Anthropic
    count it inside) and is billed as output once. A count larger than `output_tokens` can only
    have been reported beside it (Gemini's thoughtsTokenCount), so then both are billed.
    """
    if provider_reported is not None:
        return float(provider_reported)
    billed_output = output_tokens
    if reasoning_tokens > output_tokens:
        billed_output = output_tokens + reasoning_tokens
    return estimate_cost(
        resolve_price(model, input_tokens),
        input_tokens,
        billed_output,
        cached_input_tokens,
        cache_write_tokens,
    )


# -- prices ------------------------------------------------------------------------------------


def resolve_price(model: ModelSpec, input_tokens: int = 0, provider: str | None = None) -> Price:
    """The model's pool price; when its input or output price is unknown, genai-prices' price for
    one of its provider ids (`provider` first), at the tier `input_tokens` falls in. Returns the
    pool's (unknown) price when neither knows it."""
    price = model.price
    if price.input is not None and price.output is not None:
        return price
    refs = list(model.provider_ids.items())
    if provider is not None:
        refs.sort(key=lambda item: item[0] != provider)
    for provider_name, provider_model_id in refs:
        found = _genai_model_price(provider_name, provider_model_id)
        if found is not None:
            return _flatten(found, input_tokens, provider_name, provider_model_id)
    return price


@lru_cache(maxsize=256)
def _genai_model_price(provider_name: str, provider_model_id: str) -> Any | None:
    """genai-prices' current ModelPrice for one provider's model id, or None (unknown either)."""
    try:
        import datetime as _dt

        from genai_prices import data_snapshot
    except ImportError:  # an optional fallback: without it, unknown stays unknown
        return None
    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(
            provider_model_id, None, provider_name, None
        )
    except LookupError:
        return None
    model_price = info.get_prices(_dt.datetime.now(tz=_dt.UTC))
    if model_price.input_mtok is None or model_price.output_mtok is None:
        return None  # genai-prices lists the model but not its price: still unknown
    return model_price


def _flatten(model_price: Any, input_tokens: int, provider_name: str, model_id: str) -> Price:
    """genai-prices' possibly tiered prices as one flat Price for a prompt of `input_tokens`."""

    def at(value: Any) -> float | None:
        if value is None:
            return None
        tiers = getattr(value, "tiers", None)
        if tiers is None:
            return float(value)
        # "cliff" tiers: crossing a threshold prices every token at that tier's rate
        rate = value.base
        for tier in tiers:
            if input_tokens > tier.start:
                rate = tier.price
        return float(rate)

    return Price(
        input=at(model_price.input_mtok),
        output=at(model_price.output_mtok),
        cached_input=at(model_price.cache_read_mtok),
        cache_write=at(model_price.cache_write_mtok),
        source=f"genai-prices {_genai_version()} bundled data: {provider_name} {model_id}",
        date="",
    )


@lru_cache(maxsize=1)
def _genai_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:  # pragma: no cover - only reached after a successful lookup
        return "?"


# -- display -----------------------------------------------------------------------------------


def format_usd(usd: float | None) -> str:
    """'unpriced' for None, '$0.00' only for exactly zero, '$12.35' from a dollar up, and four
    significant digits below (trailing zeros dropped): '$0.1235', '$0.00042'."""
    if usd is None:
        return "unpriced"
    if math.isnan(usd):
        return "unpriced"
    sign = "-" if usd < 0 else ""
    amount = abs(usd)
    if amount == 0:
        return "$0.00"
    if math.isinf(amount):
        return f"{sign}$inf"
    if round(amount, 2) >= 1:
        return f"{sign}${amount:,.2f}"
    decimals = max(2, 3 - math.floor(math.log10(amount)))
    text = f"{amount:.{decimals}f}"
    if float(text) >= 1:  # rounding carried into the dollars (0.99996 -> 1.000)
        return f"{sign}${amount:,.2f}"
    whole, frac = text.split(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{frac}"
