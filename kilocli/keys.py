"""API keys: the environment first, else ``keys.toml`` (``[keys] provider = "key"``, mode 0600).

Keys are never printed (only ``mask()``-ed), logged, or stored anywhere else.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kilocli import output
from kilocli.config import Paths, read_toml, write_toml
from kilocli.errors import ConfigError, UsageError
from kilocli.providers.presets import BY_NAME, LISTED_ORDER
from kilocli.settings import Settings, load_settings

# provider -> env var of its key, for the built-in providers that need one
PROVIDER_ENV: dict[str, str] = {
    name: var for name in LISTED_ORDER if (var := BY_NAME[name].key_env)
}

_HEADER = "# kilocli API keys. Keep this file private (mode 0600); never commit it.\n"
_KNOWN_PREFIX = re.compile(r"^(sk-(?:or-v1-|ant-(?:api\d+-)?|proj-)?)")
_warned: set[Path] = set()


@dataclass(frozen=True)
class KeyInfo:
    provider: str
    env_var: str | None  # None: a keys-file entry for a provider no longer configured
    source: str | None  # "env", "file", or None when not set
    masked: str | None  # the key in use, masked
    in_file: bool  # the keys file has an entry (possibly shadowed by the environment)


def mask(key: str) -> str:
    """``sk-…abcd``: a known prefix and at most the last 4 characters; nothing of a short key."""
    if len(key) < 16:
        return "…"
    match = _KNOWN_PREFIX.match(key)
    return f"{match.group(1) if match else ''}…{key[-4:]}"


def read_keys_file(paths: Paths) -> dict[str, str]:
    """The keys file's entries ({} without a file); warns once if group/others can read it."""
    path = paths.keys_file
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and path not in _warned:
        _warned.add(path)
        output.warn(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    data = read_toml(path)
    for key in data:
        if key != "keys":
            raise ConfigError(f"{path}: unknown key '{key}' (expected a [keys] table)")
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: key 'keys': expected a table")
    for provider, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: key 'keys.{provider}': expected a non-empty string")
    return {provider: value.strip() for provider, value in table.items()}


def _providers_for_env(env_var: str, settings: Settings) -> list[str]:
    return [name for name in settings.provider_names() if settings.env_var_for(name) == env_var]


def get_key(
    env_var: str,
    paths: Paths,
    *,
    env: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> str | None:
    """The key in ``env_var``, else the keys-file entry of the provider that uses that variable."""
    env = os.environ if env is None else env
    value = env.get(env_var, "").strip()
    if value:
        return value
    if not paths.keys_file.exists():
        return None
    settings = settings if settings is not None else load_settings(paths)
    stored = read_keys_file(paths)
    for provider in _providers_for_env(env_var, settings):
        if provider in stored:
            return stored[provider]
    return None


def _key_providers(settings: Settings) -> list[str]:
    return [name for name in settings.provider_names() if settings.env_var_for(name)]


def env_var_for_provider(provider: str, paths: Paths, settings: Settings | None = None) -> str:
    """The env var of a provider that takes a key; UsageError for others (ollama, typos)."""
    settings = settings if settings is not None else load_settings(paths)
    env_var = settings.env_var_for(provider)
    if env_var:
        return env_var
    if provider in settings.provider_names():
        raise UsageError(f"{provider} takes no key (set providers.{provider}.key_env if it does)")
    raise UsageError(
        f"unknown provider {provider!r}; keys are for: {', '.join(_key_providers(settings))} "
        f"(for a custom endpoint: kilo config set providers.{provider}.base_url URL, "
        f"then providers.{provider}.key_env VAR)"
    )


def set_key(provider: str, value: str, paths: Paths) -> None:
    """Store ``provider``'s key in the keys file (created 0600, replaced atomically)."""
    env_var_for_provider(provider, paths)
    key = value.strip()
    if not key:
        raise UsageError("empty key: nothing saved")
    if any(c.isspace() or not c.isprintable() for c in key):
        raise UsageError("the key contains spaces or line breaks: paste only the key")
    stored = read_keys_file(paths)
    stored[provider] = key
    _write(paths, stored)


def remove_key(provider: str, paths: Paths) -> bool:
    """Remove ``provider``'s entry from the keys file; False when there was none."""
    stored = read_keys_file(paths)
    if provider not in stored:
        return False
    del stored[provider]
    _write(paths, stored)
    return True


def _write(paths: Paths, stored: dict[str, str]) -> None:
    write_toml(paths.keys_file, {"keys": stored}, mode=0o600, header=_HEADER)


def list_keys(paths: Paths, *, env: Mapping[str, str] | None = None) -> list[KeyInfo]:
    """Every provider that takes a key, plus stale file entries, with where its key comes from."""
    env = os.environ if env is None else env
    settings = load_settings(paths)
    stored = read_keys_file(paths)
    infos: list[KeyInfo] = []
    for provider in _key_providers(settings):
        env_var = settings.env_var_for(provider)
        assert env_var is not None
        from_env = env.get(env_var, "").strip()
        if from_env:
            source, key = "env", from_env
        elif provider in stored:
            source, key = "file", stored[provider]
        else:
            source, key = None, None
        masked = mask(key) if key else None
        infos.append(KeyInfo(provider, env_var, source, masked, provider in stored))
    listed = {info.provider for info in infos}
    for provider, key in stored.items():
        if provider not in listed:
            infos.append(KeyInfo(provider, None, "file", mask(key), True))
    return infos
