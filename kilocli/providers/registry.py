"""Which providers are configured, and which of them serves which catalogue model.

Order (the first that has a model serves it): endpoints declared in config.toml, then the presets
``openrouter``, ``anthropic``, ``openai``, ``ollama``. A preset counts once its key is found (the
environment first, then the keys file); Ollama needs no key and counts when ``OLLAMA_HOST`` is set
or config has a ``[providers.ollama]`` table. config.toml may override a preset's fields, and
``enabled = false`` switches any provider off:

    provider_order = ["anthropic"]       # prefer these when several serve a model

    [providers.openrouter]
    enabled = false                      # never use it, even with a key

    [providers.ollama]                   # a table (or OLLAMA_HOST) switches the local server on
    base_url = "http://gpu-box:11434/v1"

    [providers.lab]                      # a custom OpenAI-compatible endpoint
    base_url = "http://gpu-box:8000/v1"
    key_env = "LAB_API_KEY"              # omit for an endpoint without a key
    free = true                          # local hardware: every call costs nothing
    headers = { "X-Team" = "tools" }
    models = { "qwen2.5-coder-32b" = "Qwen/Qwen2.5-Coder-32B-Instruct" }   # catalogue id -> its id

This module does no I/O and imports no HTTP code until ``make_provider`` is called.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kilocli.errors import ConfigError
from kilocli.providers.config import ProviderConfig
from kilocli.providers.presets import BY_NAME, KINDS, PRESET_ORDER, PRESETS, Preset

if TYPE_CHECKING:
    import httpx

    from kilocli.providers.base import Provider, Timeouts
    from kilocli.routing.pools import Catalogue, ModelSpec

__all__ = [
    "KINDS",
    "PRESET_ORDER",
    "ProviderConfig",
    "configured_providers",
    "entry_problem",
    "kind_problem",
    "make_provider",
    "ollama_base_url",
    "provider_model_id",
    "reachable_models",
]


def _preset(preset: Preset, env: Mapping[str, str]) -> ProviderConfig:
    """The ProviderConfig of a built-in, its endpoint moved by its variable when that is set."""
    moved = env.get(preset.url_env) if preset.url_env else None
    if moved and preset.url_env_is_host:
        base_url = ollama_base_url(moved)
    else:
        base_url = moved or preset.base_url
    host = preset.new_max_tokens_host
    takes_new_name = host is not None and host in base_url
    return ProviderConfig(
        name=preset.name,
        kind=preset.kind,
        base_url=base_url,
        key_env=preset.key_env,
        headers=dict(preset.headers),
        extra_body=copy.deepcopy(dict(preset.extra_body)),
        zero_price=preset.free,
        max_tokens_field="max_completion_tokens" if takes_new_name else "max_tokens",
    )


def ollama_base_url(host: str) -> str:
    """``OLLAMA_HOST`` read as Ollama does (``0.0.0.0``, ``host:port``, ``https://h``) + ``/v1``."""
    value = host.strip().rstrip("/")
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "http", value
    default_port = {"http": "80", "https": "443"}.get(scheme, "11434") if sep else "11434"
    hostport, _, path = rest.partition("/")
    if hostport.startswith("["):  # [::1]:11434
        bracket, _, port = hostport.partition("]")
        name, port = bracket + "]", port.lstrip(":")
    elif hostport.count(":") == 1:
        name, port = hostport.split(":")
    else:
        name, port = hostport, ""
    if name in ("", "0.0.0.0", "[::]"):  # a bind-all address: talk to this machine
        name = "127.0.0.1"
    url = f"{scheme}://{name}:{port or default_port}"
    return f"{url}/{path}/v1" if path else f"{url}/v1"


def kind_problem(kind: str) -> str | None:
    """A wire format this kilocli does not speak, or None."""
    return None if kind in KINDS else f"expected one of {', '.join(KINDS)}, got {kind!r}"


def entry_problem(name: str, entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """What a well-typed ``[providers.NAME]`` table gets wrong in meaning, as (the key at fault,
    "" for the table itself; the problem), or None. settings checks types and known keys first."""
    preset = BY_NAME.get(name)
    kind = entry.get("kind")
    if kind is not None:
        problem = kind_problem(kind)
        if problem:
            return "kind", problem
        if preset is not None and kind != preset.kind:
            return "kind", f"the {name} preset's kind is fixed"
    if preset is None and not entry.get("base_url"):
        example = f"kilo config set providers.{name}.base_url https://host/v1"
        return "", f"a custom provider needs base_url ({example})"
    return None


def _apply(base: ProviderConfig, entry: Mapping[str, Any], key: str | None) -> ProviderConfig:
    return replace(
        base,
        base_url=entry.get("base_url", base.base_url),
        key_env=entry.get("key_env", base.key_env),
        key=key,
        headers={**base.headers, **entry.get("headers", {})},
        model_map={**base.model_map, **entry.get("models", {})},
        zero_price=entry.get("free", base.zero_price),
        max_tokens_field=entry.get("max_tokens_field", base.max_tokens_field),
    )


def configured_providers(
    settings_providers: Mapping[str, Any] | None,
    key_lookup: Callable[[str], str | None],
    env: Mapping[str, str],
    *,
    order: Sequence[str] = (),
) -> list[ProviderConfig]:
    """Every usable provider, in serving order.

    ``settings_providers`` maps a name to its table (``enabled``, ``base_url``, ``key_env``,
    ``models``, ``headers``, ``free``, ``kind``; a None value means "not set"), as
    ``Settings.providers_as_dicts`` gives it: settings.py has checked its shape and, with
    ``entry_problem`` below, its meaning, so nothing here re-checks it. ``key_lookup(var)``
    reads the keys file; the environment wins over it. ``order`` (config ``provider_order``) puts
    the named providers first, in that order.
    """
    checked = {  # None: "not set"
        name: {k: v for k, v in table.items() if v is not None}
        for name, table in (settings_providers or {}).items()
    }

    def find_key(var: str | None) -> str | None:
        if not var:
            return None
        return env.get(var) or key_lookup(var) or None

    custom: list[ProviderConfig] = []
    for name, entry in checked.items():
        if name in PRESET_ORDER:
            continue  # applied below, in preset order
        if entry.get("enabled") is False:
            continue
        key_env = entry.get("key_env")
        key = find_key(key_env)
        if key_env and not key:
            continue  # declared but its key is not set: not usable yet
        base = ProviderConfig(
            name=name, kind=entry.get("kind", "openai"), base_url="", key_env=None, origin="config"
        )
        custom.append(_apply(base, entry, key))

    presets: list[ProviderConfig] = []
    for row in PRESETS:
        entry = checked.get(row.name, {})
        preset = _preset(row, env)
        key = find_key(entry.get("key_env", preset.key_env))
        if entry.get("enabled") is False:
            continue
        if row.key_env is None:
            # local and keyless: on once the user points at a server or gives it a table
            if not ((row.url_env and env.get(row.url_env)) or row.name in checked):
                continue
        elif not key:
            continue
        presets.append(_apply(preset, entry, key))

    found = custom + presets
    rank = {name: i for i, name in enumerate(order)}
    return sorted(found, key=lambda cfg: rank.get(cfg.name, len(rank)))  # stable: ties keep order


def provider_model_id(spec: ModelSpec, cfg: ProviderConfig) -> str | None:
    """The id ``cfg`` knows this model by, or None when it does not serve it."""
    if spec.id in cfg.model_map:
        return cfg.model_map[spec.id]
    return spec.provider_ids.get(cfg.name)


def reachable_models(
    catalogue: Catalogue | Mapping[str, ModelSpec], providers: list[ProviderConfig]
) -> dict[str, str]:
    """Model id -> name of the first provider (in order) that serves it."""
    models = catalogue.models if hasattr(catalogue, "models") else catalogue
    reachable: dict[str, str] = {}
    for model_id, spec in models.items():
        for cfg in providers:
            if provider_model_id(spec, cfg):
                reachable[model_id] = cfg.name
                break
    return reachable


def make_provider(
    cfg: ProviderConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    timeouts: Timeouts | None = None,
) -> Provider:
    """The wire-format object for ``cfg``; ``transport`` is the test seam (httpx)."""
    if cfg.kind == "openai":
        from kilocli.providers.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(cfg, transport=transport, timeouts=timeouts)
    if cfg.kind == "anthropic":
        from kilocli.providers.anthropic import AnthropicProvider

        return AnthropicProvider(cfg, transport=transport, timeouts=timeouts)
    raise ConfigError(f"provider {cfg.name}: unknown kind {cfg.kind!r}")
