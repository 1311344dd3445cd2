"""One configured endpoint (what the registry builds from presets and config.toml).

Apart from the rest of base.py so that routing, which only asks which provider serves a model,
never imports the providers' request and event types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProviderConfig:
    """One configured endpoint. It holds the key but never shows it (repr: header names only)."""

    name: str  # "openrouter", "anthropic", "openai", "ollama" or a custom name from config.toml
    kind: str  # wire format: "openai" | "anthropic"
    base_url: str  # OpenAI kind: ends in /v1; Anthropic kind: the host root (a trailing /v1 is ok)
    key_env: str | None  # the variable the key comes from (named in auth errors); None: no key
    key: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    # catalogue model id -> this endpoint's model id (custom endpoints; presets use ModelSpec)
    model_map: Mapping[str, str] = field(default_factory=dict, hash=False)
    extra_body: Mapping[str, Any] = field(default_factory=dict, hash=False)
    max_tokens_field: str = "max_tokens"  # api.openai.com wants "max_completion_tokens"
    zero_price: bool = False  # local models (Ollama): every call costs nothing
    origin: str = "preset"  # "preset" | "config": where this entry came from

    def __repr__(self) -> str:
        return (
            f"ProviderConfig(name={self.name!r}, kind={self.kind!r}, base_url={self.base_url!r}, "
            f"key_env={self.key_env!r}, key={'<set>' if self.key else None}, "
            f"headers={sorted(self.headers)!r}, models={len(self.model_map)})"
        )

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never reach a message: the key and custom header values."""
        values = [self.key] if self.key else []
        values.extend(v for v in self.headers.values() if v)
        return tuple(values)
