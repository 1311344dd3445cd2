"""Pool and catalogue files: load and validate (STUB: schema fixed, loading to be written).

Files (TOML, shipped in ``pools/`` and overridable in ``<config>/pools/``):
  catalogue.toml       [models.<id>] entries -> ModelSpec
  <tier>.toml          one per tier (frontier, balanced, free, auto-efficient) -> TierPool
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Price:
    """USD per million tokens. None means unknown ("unpriced"), never zero."""

    input: float | None
    output: float | None
    cached_input: float | None  # None: same as input
    source: str
    date: str


@dataclass(frozen=True)
class Skill:
    """Share of tasks solved (0..1) for one task x difficulty cell, with where the figure comes from."""

    value: float
    basis: str  # e.g. "SWE-bench Verified bash-only, easy split, 2025-12-10" or "extrapolated from ..."


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


TIER_NAMES: tuple[str, ...] = ("frontier", "balanced", "free", "auto-efficient")
