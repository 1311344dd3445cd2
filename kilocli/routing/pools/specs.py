"""What pool and catalogue files describe: models with prices and skills, and tiers of them.

Plain frozen data (and the bar shift of the `quality` setting): no file reading here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Price:
    """USD per million tokens. None means unknown ("unpriced"), never zero."""

    input: float | None
    output: float | None
    cached_input: float | None  # None: same as input
    source: str
    date: str
    # a prompt-cache write (Anthropic: 1.25x input for the 5-minute cache); None: same as input
    cache_write: float | None = None


@dataclass(frozen=True)
class Skill:
    """Share of tasks solved (0..1) in one task x difficulty cell, and where the figure is from."""

    value: float
    # e.g. "measured: SWE-bench Verified bash-only ... 2025-12-10" or "extrapolated from ..."
    basis: str


@dataclass(frozen=True)
class ModelSpec:
    id: str  # our canonical id, e.g. "claude-sonnet-4.5"
    name: str  # display name
    vendor: str
    context_window: int  # tokens
    max_output_tokens: int
    price: Price
    # provider name -> that provider's model id, e.g. {"openrouter": "anthropic/claude-sonnet-4.5",
    # "anthropic": "claude-sonnet-4-5", "openai": "gpt-5", "ollama": "qwen2.5-coder:7b"}
    provider_ids: dict[str, str]
    skills: dict[tuple[str, str], Skill]  # (task, difficulty) -> Skill; every cell present
    free: bool = False  # zero-price model (OpenRouter :free, local Ollama)
    status: str = "active"  # or "deprecated"
    notes: str = ""  # caveats worth showing next to the model (rate limits, logging, quantisation)


@dataclass(frozen=True)
class Catalogue:
    models: dict[str, ModelSpec]
    sources: tuple[Path, ...] = ()


@dataclass(frozen=True)
class TierPool:
    name: str
    description: str
    # "cheapest_adequate": cheapest model whose skill meets the bar (auto-efficient, free)
    # "ordered": first reachable model in `models` order (frontier, balanced)
    rule: str
    models: tuple[str, ...]  # candidate ids, all present in the catalogue
    bars: dict[str, float]  # difficulty -> minimum skill
    expected_output_tokens: dict[str, int]  # task -> tokens
    switch_factor: float  # sticky: switch only if new pick is cheaper by more than this factor
    fallback: str  # model used when the classifier is unsure or a cell has no figures
    min_margin: float  # task-probability margin below which the decision is "unsure"
    source: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)
    # every fallback candidate in order (`fallback` is the first): the first reachable one is used,
    # so a user with a single provider's key still falls back to that provider's balanced model
    fallback_chain: tuple[str, ...] = ()
    # never below balanced: a candidate is adequate only if its skill for the cell is at least the
    # fallback (balanced) model's minus this; None = no such floor
    floor_tolerance: float | None = None


STATUSES: tuple[str, ...] = ("active", "deprecated")


def shift_bar(bar: float, shift: float) -> float:
    """sigmoid(logit(bar) + shift): moves a bar on the log-odds scale the skills are extrapolated
    on; 0 and 1 stay where they are."""
    if bar <= 0 or bar >= 1:
        return bar
    return 1 / (1 + math.exp(-(math.log(bar / (1 - bar)) + shift)))


def with_bar_shift(pool: TierPool, shift: float) -> TierPool:
    """The same tier with every bar moved by ``shift`` logits (the `quality` setting)."""
    if not shift:
        return pool
    return replace(pool, bars={d: shift_bar(v, shift) for d, v in pool.bars.items()})
