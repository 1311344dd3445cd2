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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kilocli.errors import ConfigError
from kilocli.providers.base import Provider, ProviderConfig, Timeouts

if TYPE_CHECKING:
    import httpx

    from kilocli.routing.pools import Catalogue, ModelSpec

__all__ = [
    "PRESET_ORDER",
    "ProviderConfig",
    "configured_providers",
    "make_provider",
    "ollama_base_url",
    "provider_model_id",
    "reachable_models",
]

PRESET_ORDER: tuple[str, ...] = ("openrouter", "anthropic", "openai", "ollama")
KINDS: tuple[str, ...] = ("openai", "anthropic")

OPENROUTER_URL = "https://openrouter.ai/api/v1"
ANTHROPIC_URL = "https://api.anthropic.com"
OPENAI_URL = "https://api.openai.com/v1"
OLLAMA_URL = "http://127.0.0.1:11434/v1"
# OpenRouter app attribution: the URL identifies the app, the title names it (X-Title is the
# older spelling, still read)
ATTRIBUTION_HEADERS = {
    "HTTP-Referer": "https://github.com/kilocli/kilocli",
    "X-OpenRouter-Title": "kilocli",
    "X-Title": "kilocli",
}

_ENTRY_KEYS = frozenset(
    {
        "kind",
        "base_url",
        "key_env",
        "headers",
        "models",
        "enabled",
        "free",
        "max_tokens_field",
        "builtin",  # informative, from Settings.providers_as_dicts
    }
)


def _preset(name: str, env: Mapping[str, str]) -> ProviderConfig:
    if name == "openrouter":
        return ProviderConfig(
            name="openrouter",
            kind="openai",
            base_url=OPENROUTER_URL,
            key_env="OPENROUTER_API_KEY",
            headers=dict(ATTRIBUTION_HEADERS),
            # usage accounting (cost, cache counts); OpenRouter now always sends it, older
            # deployments need the flag
            extra_body={"usage": {"include": True}},
        )
    if name == "anthropic":
        return ProviderConfig(
            name="anthropic",
            kind="anthropic",
            base_url=env.get("ANTHROPIC_BASE_URL") or ANTHROPIC_URL,
            key_env="ANTHROPIC_API_KEY",
        )
    if name == "openai":
        base = env.get("OPENAI_BASE_URL") or OPENAI_URL
        return ProviderConfig(
            name="openai",
            kind="openai",
            base_url=base,
            key_env="OPENAI_API_KEY",
            # OpenAI's reasoning models refuse max_tokens; other servers may not know the new name
            max_tokens_field="max_completion_tokens" if "api.openai.com" in base else "max_tokens",
        )
    if name == "ollama":
        host = env.get("OLLAMA_HOST")
        return ProviderConfig(
            name="ollama",
            kind="openai",
            base_url=ollama_base_url(host) if host else OLLAMA_URL,
            key_env=None,
            zero_price=True,
        )
    raise KeyError(name)


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


def _check_entry(name: str, entry: object, source: str) -> dict[str, Any]:
    where = f"{source}: [providers.{name}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_ENTRY_KEYS))
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    entry = {k: v for k, v in entry.items() if v is not None}  # None: "not set"
    kind = entry.get("kind", "openai")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    base_url = entry.get("base_url")
    if base_url is not None and (
        not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))
    ):
        raise ConfigError(f"{where}: base_url must start with http:// or https://")
    for key in ("key_env", "max_tokens_field"):
        if key in entry and not (isinstance(entry[key], str) and entry[key]):
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    for key in ("enabled", "free", "builtin"):
        if key in entry and not isinstance(entry[key], bool):
            raise ConfigError(f"{where}: {key} must be true or false")
    for key in ("headers", "models"):
        table = entry.get(key, {})
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise ConfigError(f'{where}: {key} must be a table of strings, e.g. {{ "a" = "b" }}')
    return entry


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
    source: str = "config.toml",
) -> list[ProviderConfig]:
    """Every usable provider, in serving order. Invalid config raises ``ConfigError`` naming it.

    ``settings_providers`` maps a name to its table (``enabled``, ``base_url``, ``key_env``,
    ``models``, ``headers``, ``free``, ``kind``; a None value means "not set"). ``key_lookup(var)``
    reads the keys file; the environment wins over it. ``order`` (config ``provider_order``) puts
    the named providers first, in that order.
    """
    checked = {
        name: _check_entry(name, raw, source) for name, raw in (settings_providers or {}).items()
    }

    def find_key(var: str | None) -> str | None:
        if not var:
            return None
        return env.get(var) or key_lookup(var) or None

    custom: list[ProviderConfig] = []
    for name, entry in checked.items():
        if name in PRESET_ORDER:
            continue  # applied below, in preset order
        if "base_url" not in entry:
            raise ConfigError(f"{source}: [providers.{name}]: base_url is required")
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
    for name in PRESET_ORDER:
        entry = checked.get(name, {})
        preset = _preset(name, env)
        if entry.get("kind", preset.kind) != preset.kind:
            raise ConfigError(f"{source}: [providers.{name}]: the {name} preset's kind is fixed")
        key = find_key(entry.get("key_env", preset.key_env))
        if entry.get("enabled") is False:
            continue
        if name == "ollama":
            # local and keyless: on once the user points at a server or gives it a table
            if not (env.get("OLLAMA_HOST") or name in checked):
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
