"""User settings: ``config.toml``, validated on load, written atomically with tomli-w.

Every key has one declared kind; loading a file and ``kilo config set KEY VALUE`` go through the
same checks, so a typo or a wrong type is one line naming the file (or the command) and the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kilocli.config import Paths, read_toml, write_toml
from kilocli.errors import ConfigError
from kilocli.providers.presets import BY_NAME, LISTED_ORDER
from kilocli.providers.registry import entry_problem, kind_problem
from kilocli.routing.taxonomy import (
    DEFAULT_QUALITY,
    DEFAULT_TIER,
    QUALITY_SHIFTS,
    unknown_tier,
)

if TYPE_CHECKING:
    from kilocli.providers.base import Timeouts

DEFAULT_TIMEOUT_S = 120.0
# the separate waits inside one call (kilocli.providers.base.Timeouts says what each bounds)
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_FIRST_BYTE_TIMEOUT_S = 60.0
DEFAULT_IDLE_TIMEOUT_S = 30.0

# built-in provider -> env var of its key (None: needs no key), in the order they are listed;
# custom providers declare key_env in config
BUILTIN_PROVIDERS: dict[str, str | None] = {name: BY_NAME[name].key_env for name in LISTED_ORDER}

_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class ProviderSettings:
    """One ``[providers.NAME]`` table: a toggle or override for a built-in, or a custom endpoint.

    kilocli.providers.registry decides what the fields mean (e.g. ollama counts once its table
    exists); None / empty means "not set in the file".
    """

    enabled: bool | None = None
    base_url: str | None = None  # custom OpenAI-compatible endpoint, or an override
    key_env: str | None = None  # env var holding its key (the keys file stores it by provider name)
    kind: str | None = None  # wire format: "openai" (default) or "anthropic"
    free: bool | None = None  # every call costs nothing (local hardware)
    max_tokens_field: str | None = None  # "max_tokens" or "max_completion_tokens"
    headers: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)  # catalogue id -> endpoint's model id


@dataclass
class ChatSettings:
    history: bool = True  # keep prompt history in the data dir (up-arrow across sessions)
    vi_mode: bool = False


@dataclass
class Settings:
    tier: str = DEFAULT_TIER
    quality: str = DEFAULT_QUALITY  # how much skill the per-request tiers ask of a model
    exclude: list[str] = field(default_factory=list)  # model ids never to route to
    max_cost_usd: float | None = None  # per-turn cap on the estimate
    # spend limits checked against the store before every call (kilocli.budget)
    budget_session_usd: float | None = None
    budget_daily_usd: float | None = None  # local calendar day
    budget_monthly_usd: float | None = None  # local calendar month
    timeout_s: float = DEFAULT_TIMEOUT_S  # bound on one call: retries and fallbacks included
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S  # to open a connection
    first_byte_timeout_s: float = DEFAULT_FIRST_BYTE_TIMEOUT_S  # request sent -> first text
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S  # silence between two pieces of an answer
    system_prompt: str | None = None
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    provider_order: list[str] = field(default_factory=list)  # preference when several serve a model
    encoder_model_path: str | None = None  # a local MiniLM folder instead of the bundled weights
    chat: ChatSettings = field(default_factory=ChatSettings)

    def env_var_for(self, provider: str) -> str | None:
        """The env var holding ``provider``'s key (config's key_env wins over the built-in name)."""
        configured = self.providers.get(provider)
        if configured is not None and configured.key_env:
            return configured.key_env
        return BUILTIN_PROVIDERS.get(provider)

    def timeouts(self) -> Timeouts:
        from kilocli.providers.base import Timeouts

        return Timeouts(
            connect=self.connect_timeout_s,
            first_byte=self.first_byte_timeout_s,
            idle=self.idle_timeout_s,
        )

    def provider_names(self) -> list[str]:
        """Built-ins first, then custom providers in file order."""
        return [*BUILTIN_PROVIDERS, *(n for n in self.providers if n not in BUILTIN_PROVIDERS)]

    def providers_as_dicts(self) -> dict[str, dict[str, Any]]:
        """The ``[providers.*]`` tables as written (only keys that are set), in file order.

        This is what kilocli.providers.registry.configured_providers takes.
        """
        return {name: _provider_table(p) for name, p in self.providers.items()}


def _provider_table(provider: ProviderSettings) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in _PROVIDER:
        value = getattr(provider, key)
        if value is not None and value != {}:
            table[key] = dict(value) if isinstance(value, dict) else value
    return table


# -- schema -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    kind: str  # a key of _TYPES
    check: Callable[[Any], str | None] | None = None  # returns a problem, or None when fine


def _check_quality(value: str) -> str | None:
    if value not in QUALITY_SHIFTS:
        return f"unknown quality {value!r}; choose one of {', '.join(QUALITY_SHIFTS)}"
    return None


def _check_timeout(value: float) -> str | None:
    if math.isfinite(value) and 0 < value <= 3600:
        return None
    return f"must be a number of seconds from 0 to 3600, got {value}"


def _check_cost(value: float) -> str | None:
    return None if math.isfinite(value) and value > 0 else f"must be greater than 0, got {value}"


def _check_ids(values: list[str]) -> str | None:
    for item in values:
        if not item.strip() or any(c.isspace() for c in item):
            return f"model ids must be non-empty and without spaces, got {item!r}"
    return None


def _check_url(value: str) -> str | None:
    if not value.startswith(("http://", "https://")):
        return f"expected an http:// or https:// URL, got {value!r}"
    return None


def _check_field_name(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _check_env(value: str) -> str | None:
    if not _ENV_NAME.match(value):
        return f"expected an environment variable name like MY_API_KEY, got {value!r}"
    return None


_TOP: dict[str, _Field] = {
    "tier": _Field("str", unknown_tier),
    "quality": _Field("str", _check_quality),
    "exclude": _Field("str_list", _check_ids),
    "max_cost_usd": _Field("opt_float", _check_cost),
    "budget_session_usd": _Field("opt_float", _check_cost),
    "budget_daily_usd": _Field("opt_float", _check_cost),
    "budget_monthly_usd": _Field("opt_float", _check_cost),
    "timeout_s": _Field("opt_float", _check_timeout),
    "connect_timeout_s": _Field("opt_float", _check_timeout),
    "first_byte_timeout_s": _Field("opt_float", _check_timeout),
    "idle_timeout_s": _Field("opt_float", _check_timeout),
    "system_prompt": _Field("opt_str"),
    "provider_order": _Field("str_list"),  # names checked against the providers in _validate
    "encoder_model_path": _Field("opt_str"),
}
_CHAT: dict[str, _Field] = {"history": _Field("bool"), "vi_mode": _Field("bool")}
_PROVIDER: dict[str, _Field] = {
    "enabled": _Field("bool"),
    "base_url": _Field("opt_str", _check_url),
    "key_env": _Field("opt_str", _check_env),
    "kind": _Field("opt_str", kind_problem),
    "free": _Field("bool"),
    "max_tokens_field": _Field("opt_str", _check_field_name),
    "headers": _Field("str_table"),
    "models": _Field("str_table"),
}
_TABLES = ("headers", "models")  # dotted keys reach into them: providers.x.models.MODEL_ID

VALID_KEYS: tuple[str, ...] = (
    *_TOP,
    *(f"chat.{k}" for k in _CHAT),
    *(f"providers.NAME.{k}" for k in _PROVIDER if k not in _TABLES),
    "providers.NAME.headers.HEADER",
    "providers.NAME.models.MODEL_ID",
)

# kind -> (what the file should hold, the check of a TOML value)
_TYPES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "opt_str": ("a string", lambda v: isinstance(v, str)),
    "opt_float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "str_list": (
        "a list of strings",
        lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    ),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "str_table": (
        "a table of strings",
        lambda v: isinstance(v, dict) and all(isinstance(i, str) for i in v.values()),
    ),
}


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _field_value(spec: _Field, value: object, key: str, where: Callable[[str], str]) -> Any:
    expected, type_ok = _TYPES[spec.kind]
    if not type_ok(value):
        raise ConfigError(f"{where(key)}: expected {expected}, got {_toml_type(value)}")
    if spec.kind == "opt_float":
        value = float(value)  # type: ignore[arg-type]
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise ConfigError(f"{where(key)}: {problem}")
    return value


def _unknown(key: str, known: list[str], where: Callable[[str], str]) -> ConfigError:
    return ConfigError(f"{where(key)}: unknown key (valid: {', '.join(known)})")


def _validate(raw: dict[str, Any], where: Callable[[str], str]) -> Settings:
    settings = Settings()
    for key, value in raw.items():
        if key == "chat":
            if not isinstance(value, dict):
                raise ConfigError(f"{where('chat')}: expected a table, got {_toml_type(value)}")
            for sub, sub_value in value.items():
                if sub not in _CHAT:
                    raise _unknown(f"chat.{sub}", list(_CHAT), where)
                v = _field_value(_CHAT[sub], sub_value, f"chat.{sub}", where)
                setattr(settings.chat, sub, v)
        elif key == "providers":
            if not isinstance(value, dict):
                problem = f"expected a table, got {_toml_type(value)}"
                raise ConfigError(f"{where('providers')}: {problem}")
            for name, table in value.items():
                settings.providers[name] = _validate_provider(name, table, where)
        elif key in _TOP:
            setattr(settings, key, _field_value(_TOP[key], value, key, where))
        else:
            raise _unknown(key, [*_TOP, "chat", "providers"], where)
    known = settings.provider_names()
    for name in settings.provider_order:
        if name not in known:
            raise ConfigError(
                f"{where('provider_order')}: unknown provider {name!r} (known: {', '.join(known)})"
            )
    return settings


def _validate_provider(name: str, table: object, where: Callable[[str], str]) -> ProviderSettings:
    key = f"providers.{name}"
    if not _PROVIDER_NAME.match(name):
        raise ConfigError(f"{where(key)}: provider names use lowercase letters, digits, - and _")
    if not isinstance(table, dict):
        raise ConfigError(f"{where(key)}: expected a table, got {_toml_type(table)}")
    provider = ProviderSettings()
    for sub, value in table.items():
        if sub not in _PROVIDER:
            raise _unknown(f"{key}.{sub}", list(_PROVIDER), where)
        setattr(provider, sub, _field_value(_PROVIDER[sub], value, f"{key}.{sub}", where))
    # meaning (a custom provider needs base_url, a preset's kind is fixed): the registry's rules
    problem = entry_problem(name, _provider_table(provider))
    if problem is not None:
        sub, text = problem
        raise ConfigError(f"{where(f'{key}.{sub}' if sub else key)}: {text}")
    return provider


# -- load / save ----------------------------------------------------------------------------
def read_raw(paths: Paths) -> dict[str, Any]:
    """The file as written (no defaults); {} when there is no file yet."""
    if not paths.config_file.exists():
        return {}
    return read_toml(paths.config_file)


def load_settings(paths: Paths) -> Settings:
    raw = read_raw(paths)
    return _validate(raw, lambda key: f"{paths.config_file}: key '{key}'")


def _resolve_key(dotted: str) -> tuple[tuple[str, ...], _Field]:
    parts = dotted.split(".")
    spec: _Field | None = None
    if len(parts) == 1:
        spec = _TOP.get(parts[0])
    elif len(parts) == 2 and parts[0] == "chat":
        spec = _CHAT.get(parts[1])
    elif len(parts) >= 3 and parts[0] == "providers":
        sub = parts[2]
        if sub in _TABLES and len(parts) >= 4:
            # model ids contain dots ("claude-sonnet-4.5"): everything after "models." is the id
            return ("providers", parts[1], sub, ".".join(parts[3:])), _Field("opt_str")
        if len(parts) == 3 and sub not in _TABLES:
            spec = _PROVIDER.get(sub)
    if spec is None:
        raise ConfigError(f"unknown setting '{dotted}' (valid keys: {', '.join(VALID_KEYS)})")
    return tuple(parts), spec


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _parse_raw(spec: _Field, raw: str, key: str) -> Any:
    """The command-line string -> the TOML value for ``spec``; None means "remove the key"."""
    text = raw.strip()
    if spec.kind in ("opt_str", "opt_float") and text == "":
        return None
    if spec.kind == "opt_float":
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {raw!r}") from None
    if spec.kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{key}: expected true or false, got {raw!r}")
    if spec.kind == "str_list":
        return [item.strip() for item in text.split(",") if item.strip()]
    return raw if key == "system_prompt" else text  # a prompt keeps its own spacing


def set_setting(paths: Paths, dotted_key: str, raw_value: str) -> Any:
    """``kilo config set KEY VALUE``: parse by the key's kind, validate, write config.toml.

    Lists are comma-separated; an empty value removes an optional key. Returns the value stored
    (None when removed).
    """
    parts, spec = _resolve_key(dotted_key)
    value = _parse_raw(spec, raw_value, dotted_key)
    if value is not None:
        value = _field_value(spec, value, dotted_key, lambda key: key)
    _write_change(paths, parts, value)
    return value


def unset_setting(paths: Paths, dotted_key: str) -> bool:
    """Remove a key from config.toml (its default applies again); False when it was not set."""
    parts, _ = _resolve_key(dotted_key)
    raw = read_raw(paths)
    node: Any = raw
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or parts[-1] not in node:
        return False
    _write_change(paths, parts, None)
    return True


def _write_change(paths: Paths, parts: tuple[str, ...], value: Any) -> None:
    raw = read_raw(paths)
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{paths.config_file}: key '{part}': expected a table")
        node = child
    if value is None:
        node.pop(parts[-1], None)
        _prune_empty(raw)
    else:
        node[parts[-1]] = value
    # the whole file must stay valid (a custom provider needs base_url) before it is written
    _validate(raw, lambda key: f"{paths.config_file}: key '{key}'")
    # 0600: custom provider headers may carry credentials (an Authorization or API-key header)
    write_toml(paths.config_file, raw, mode=0o600)


def _prune_empty(table: dict[str, Any]) -> None:
    """Drop tables left empty by an unset (an empty [providers.x] means defaults anyway)."""
    for key in list(table):
        child = table[key]
        if isinstance(child, dict):
            _prune_empty(child)
            if not child:
                del table[key]


def effective_dict(settings: Settings) -> dict[str, Any]:
    """Settings after defaults, as TOML-ready data (unset optional keys are left out)."""
    data: dict[str, Any] = {
        "tier": settings.tier,
        "quality": settings.quality,
        "timeout_s": settings.timeout_s,
        "connect_timeout_s": settings.connect_timeout_s,
        "first_byte_timeout_s": settings.first_byte_timeout_s,
        "idle_timeout_s": settings.idle_timeout_s,
        "exclude": list(settings.exclude),
        "provider_order": list(settings.provider_order),
    }
    for key in _OPTIONAL:
        value = getattr(settings, key)
        if value is not None:
            data[key] = value
    data["chat"] = {"history": settings.chat.history, "vi_mode": settings.chat.vi_mode}
    if settings.providers:
        data["providers"] = settings.providers_as_dicts()
    return data


# optional top-level keys: those whose default is "not set"
_OPTIONAL = tuple(key for key in _TOP if getattr(Settings(), key) is None)


def unset_keys(settings: Settings) -> list[str]:
    """Optional top-level keys with no value (shown as comments by ``kilo config show``)."""
    return [k for k in _OPTIONAL if getattr(settings, k) is None]
