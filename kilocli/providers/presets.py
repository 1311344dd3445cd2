"""The built-in providers, defined once: name, wire format, URL, key variable and quirks.

settings (which providers exist, which variable holds a key), keys (which providers take one)
and the registry (what a configured provider is) all read this table; nothing else lists them.
Pure data: no I/O, no HTTP imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# wire formats a provider can speak (providers/openai_compat.py, providers/anthropic.py)
KINDS: tuple[str, ...] = ("openai", "anthropic")

# OpenRouter app attribution: the URL identifies the app, the title names it (X-Title is the
# older spelling, still read)
ATTRIBUTION_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "HTTP-Referer": "https://github.com/kilocli/kilocli",
        "X-OpenRouter-Title": "kilocli",
        "X-Title": "kilocli",
    }
)


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # one of KINDS
    base_url: str  # the default endpoint
    key_env: str | None  # env var of its key; None: needs no key (it is switched on another way)
    url_env: str | None = None  # env var that moves the endpoint (a proxy, a local server)
    url_env_is_host: bool = False  # url_env holds a host as Ollama reads it, not a URL
    listed: int = 0  # position where providers are listed (kilo auth list, error messages)
    headers: Mapping[str, str] = field(default_factory=dict)
    # usage accounting (cost, cache counts); OpenRouter now always sends it, older deployments
    # need the flag
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    free: bool = False  # local hardware: every call costs nothing
    # OpenAI's reasoning models refuse max_tokens; other servers may not know the new name, so
    # max_completion_tokens is sent only to this host
    new_max_tokens_host: str | None = None


# in serving order: when several serve a model, the first one here wins (config's
# provider_order may reorder them)
PRESETS: tuple[Preset, ...] = (
    Preset(
        "openrouter",
        "openai",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        listed=0,
        headers=ATTRIBUTION_HEADERS,
        extra_body=MappingProxyType({"usage": {"include": True}}),
    ),
    Preset(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        url_env="ANTHROPIC_BASE_URL",
        listed=2,
    ),
    Preset(
        "openai",
        "openai",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        url_env="OPENAI_BASE_URL",
        listed=1,
        new_max_tokens_host="api.openai.com",
    ),
    # keyless: on once OLLAMA_HOST is set or config.toml has a [providers.ollama] table
    Preset(
        "ollama",
        "openai",
        "http://127.0.0.1:11434/v1",
        None,
        url_env="OLLAMA_HOST",
        url_env_is_host=True,
        listed=3,
        free=True,
    ),
)

BY_NAME: Mapping[str, Preset] = MappingProxyType({p.name: p for p in PRESETS})
# serving order, and the order they are listed in
PRESET_ORDER: tuple[str, ...] = tuple(p.name for p in PRESETS)
LISTED_ORDER: tuple[str, ...] = tuple(p.name for p in sorted(PRESETS, key=lambda p: p.listed))
