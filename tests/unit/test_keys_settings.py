"""Keys file and config.toml: permissions, precedence, masking, validation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kilocli.config import Paths, get_paths
from kilocli.errors import ConfigError, UsageError
from kilocli.keys import get_key, list_keys, mask, read_keys_file, remove_key, set_key
from kilocli.settings import (
    VALID_KEYS,
    ChatSettings,
    ProviderSettings,
    Settings,
    load_settings,
    set_setting,
    unset_setting,
)
from kilocli.store import Store

OR_KEY = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef"
OPENAI_KEY = "sk-proj-ZYXWVUTSRQPONMLKJIHGFEDCBA9876"


@pytest.fixture
def paths() -> Paths:
    return get_paths()


def write_config(paths: Paths, text: str) -> Path:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text)
    return paths.config_file


# -- keys ---------------------------------------------------------------------------------------
def test_keys_file_is_0600_from_creation(paths: Paths) -> None:
    set_key("openrouter", f"  {OR_KEY}\n", paths)
    assert stat.S_IMODE(paths.keys_file.stat().st_mode) == 0o600
    assert paths.keys_file.read_text().splitlines()[1:] == ["[keys]", f'openrouter = "{OR_KEY}"']
    assert list(paths.config_dir.iterdir()) == [paths.keys_file]  # no temp file left behind


def test_environment_beats_the_file(paths: Paths) -> None:
    set_key("openrouter", OR_KEY, paths)
    assert get_key("OPENROUTER_API_KEY", paths, env={}) == OR_KEY
    assert get_key("OPENROUTER_API_KEY", paths, env={"OPENROUTER_API_KEY": "sk-env"}) == "sk-env"
    assert get_key("OPENAI_API_KEY", paths, env={}) is None
    # an empty variable does not hide the file
    assert get_key("OPENROUTER_API_KEY", paths, env={"OPENROUTER_API_KEY": ""}) == OR_KEY


def test_custom_provider_key_is_found_through_its_key_env(paths: Paths) -> None:
    set_setting(paths, "providers.lab.base_url", "http://gpu-box:8000/v1")
    set_setting(paths, "providers.lab.key_env", "LAB_API_KEY")
    set_key("lab", "lab-secret-0123456789", paths)
    assert get_key("LAB_API_KEY", paths, env={}) == "lab-secret-0123456789"


def test_masked_listing_never_contains_the_key(paths: Paths) -> None:
    set_key("openrouter", OR_KEY, paths)
    set_key("openai", OPENAI_KEY, paths)
    infos = list_keys(paths, env={"OPENAI_API_KEY": OPENAI_KEY[::-1]})
    assert [(i.provider, i.env_var, i.source, i.masked, i.in_file) for i in infos] == [
        ("openrouter", "OPENROUTER_API_KEY", "file", "sk-or-v1-…cdef", True),
        ("openai", "OPENAI_API_KEY", "env", "…p-ks", True),
        ("anthropic", "ANTHROPIC_API_KEY", None, None, False),
    ]
    text = repr(infos)
    for secret in (OR_KEY, OPENAI_KEY, OPENAI_KEY[::-1]):
        assert secret not in text
        assert secret[:-4] not in text


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "sk-ant-api03-…wxyz"),
        ("sk-proj-abcdefghijklmnop", "sk-proj-…mnop"),
        ("plainkeyvalue1234567", "…4567"),
        ("short-key", "…"),
    ],
)
def test_mask(key: str, masked: str) -> None:
    assert mask(key) == masked


def test_set_key_rejects_unknown_providers_and_bad_values(paths: Paths) -> None:
    with pytest.raises(
        UsageError, match=r"^unknown provider 'openruoter'; keys are for: openrouter"
    ):
        set_key("openruoter", OR_KEY, paths)
    with pytest.raises(UsageError, match=r"^ollama takes no key"):
        set_key("ollama", OR_KEY, paths)
    with pytest.raises(UsageError, match=r"^empty key"):
        set_key("openai", "   ", paths)
    with pytest.raises(UsageError, match="spaces or line breaks"):
        set_key("openai", "sk-one\nsk-two", paths)
    assert not paths.keys_file.exists()


def test_remove_key(paths: Paths) -> None:
    set_key("openrouter", OR_KEY, paths)
    set_key("openai", OPENAI_KEY, paths)
    assert remove_key("openrouter", paths) is True
    assert remove_key("openrouter", paths) is False
    assert read_keys_file(paths) == {"openai": OPENAI_KEY}
    assert stat.S_IMODE(paths.keys_file.stat().st_mode) == 0o600


def test_loose_keys_file_warns_once_and_still_works(
    paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    set_key("openai", OPENAI_KEY, paths)
    paths.keys_file.chmod(0o644)
    assert get_key("OPENAI_API_KEY", paths, env={}) == OPENAI_KEY
    assert get_key("OPENAI_API_KEY", paths, env={}) == OPENAI_KEY
    err = capsys.readouterr().err
    assert err == (
        f"warning: {paths.keys_file} is readable by other users (mode 0644); "
        f"run: chmod 600 {paths.keys_file}\n"
    )


def test_malformed_keys_file_names_file_and_key(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.keys_file.write_text("[keys]\nopenai = 42\n")
    paths.keys_file.chmod(0o600)
    with pytest.raises(ConfigError) as exc:
        read_keys_file(paths)
    assert str(exc.value) == f"{paths.keys_file}: key 'keys.openai': expected a non-empty string"


def test_keys_never_reach_the_database(paths: Paths) -> None:
    set_key("openrouter", OR_KEY, paths)
    store = Store(paths.database)
    sid = store.new_session("ask", "auto-efficient")
    turn = store.start_turn(sid, "hello", decision={"model": "m", "provider": "openrouter"})
    store.finish_turn(
        turn,
        answer="hi",
        status="ok",
        decision={"model": "m"},
        model="m",
        provider="openrouter",
        usage={"input_tokens": 1},
        estimated_cost_usd=None,
        cost_usd=None,
        frontier_cost_usd=None,
        latency_ms=5,
    )
    store.close()
    stored = b"".join(p.read_bytes() for p in paths.data_dir.iterdir())
    assert b"hello" in stored  # the scan does see the rows
    assert OR_KEY.encode() not in stored


# -- settings -----------------------------------------------------------------------------------
def test_defaults_without_a_file(paths: Paths) -> None:
    assert load_settings(paths) == Settings(
        tier="auto-efficient",
        exclude=[],
        max_cost_usd=None,
        system_prompt=None,
        providers={},
        provider_order=[],
        encoder_model_path=None,
        chat=ChatSettings(history=True, vi_mode=False),
    )


def test_full_file_loads(paths: Paths) -> None:
    write_config(
        paths,
        """
tier = "balanced"
exclude = ["gpt-5"]
max_cost_usd = 1
provider_order = ["lab", "openrouter"]
[chat]
history = false
[providers.ollama]
enabled = true
[providers.lab]
base_url = "http://gpu-box:8000/v1"
key_env = "LAB_API_KEY"
free = true
models = { "qwen2.5-coder-32b" = "Qwen/Qwen2.5-Coder-32B-Instruct" }
""",
    )
    settings = load_settings(paths)
    assert settings.max_cost_usd == 1.0 and isinstance(settings.max_cost_usd, float)
    assert settings.chat.history is False
    assert settings.providers["lab"] == ProviderSettings(
        base_url="http://gpu-box:8000/v1",
        key_env="LAB_API_KEY",
        free=True,
        models={"qwen2.5-coder-32b": "Qwen/Qwen2.5-Coder-32B-Instruct"},
    )
    assert settings.providers_as_dicts() == {
        "ollama": {"enabled": True},
        "lab": {
            "base_url": "http://gpu-box:8000/v1",
            "key_env": "LAB_API_KEY",
            "free": True,
            "models": {"qwen2.5-coder-32b": "Qwen/Qwen2.5-Coder-32B-Instruct"},
        },
    }
    assert settings.env_var_for("lab") == "LAB_API_KEY"
    assert settings.env_var_for("anthropic") == "ANTHROPIC_API_KEY"


def test_providers_as_dicts_feeds_the_provider_registry(paths: Paths) -> None:
    from kilocli.providers.registry import configured_providers

    set_setting(paths, "providers.ollama.enabled", "true")
    set_setting(paths, "providers.openai.enabled", "false")
    settings = load_settings(paths)
    env = {"OPENAI_API_KEY": OPENAI_KEY}
    names = [
        p.name
        for p in configured_providers(
            settings.providers_as_dicts(), lambda var: get_key(var, paths, env=env), env
        )
    ]
    assert names == ["ollama"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("tier = 3", "key 'tier': expected a string, got an integer"),
        ("tier = 'fastest'", "key 'tier': unknown tier 'fastest'; choose one of frontier, "),
        ("temperature = 0.2", "key 'temperature': unknown key (valid: tier, quality, exclude, "),
        (
            "quality = 'best'",
            "key 'quality': unknown quality 'best'; choose one of standard, high, max",
        ),
        ("exclude = 'gpt-5'", "key 'exclude': expected a list of strings, got a string"),
        ("max_cost_usd = 0", "key 'max_cost_usd': must be greater than 0, got 0.0"),
        ("[chat]\nhistory = 'yes'", "key 'chat.history': expected true or false, got a string"),
        ("[chat]\ncolour = true", "key 'chat.colour': unknown key (valid: history, vi_mode)"),
        ("[providers.lab]\nkey_env = 'X'", "key 'providers.lab': a custom provider needs base_url"),
        ("[providers.lab]\nbase_url = 'ftp://x'", "key 'providers.lab.base_url': expected an http"),
        (
            "[providers.openai]\nkind = 'anthropic'",
            "key 'providers.openai.kind': the openai preset's kind is fixed",
        ),
        ("provider_order = ['nope']", "key 'provider_order': unknown provider 'nope' (known: "),
        ('[providers."Bad Name"]\nenabled = true', "key 'providers.Bad Name': provider names use"),
        (  # the shapes the provider registry takes on trust
            "[providers.lab]\nbase_url = 'http://x/v1'\ncolour = 'red'",
            "key 'providers.lab.colour': unknown key (valid: enabled, base_url, key_env, kind, ",
        ),
        (
            "[providers.lab]\nbase_url = 'http://x/v1'\nmodels = { a = 1 }",
            "key 'providers.lab.models': expected a table of strings, got a table",
        ),
        (
            "[providers.lab]\nbase_url = 'http://x/v1'\nenabled = 'yes'",
            "key 'providers.lab.enabled': expected true or false, got a string",
        ),
        ("[providers]\nlab = 'http://x'", "key 'providers.lab': expected a table, got a string"),
    ],
)
def test_validation_errors_name_the_file_and_key(paths: Paths, toml: str, message: str) -> None:
    path = write_config(paths, toml + "\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(paths)
    assert str(exc.value).startswith(f"{path}: {message}")


def test_toml_syntax_error_names_the_file(paths: Paths) -> None:
    path = write_config(paths, "tier = \n")
    with pytest.raises(ConfigError, match=f"^{path}: invalid TOML: "):
        load_settings(paths)


def test_set_setting_parses_by_type_and_writes_atomically(paths: Paths) -> None:
    assert set_setting(paths, "tier", "balanced") == "balanced"
    assert set_setting(paths, "exclude", "gpt-5, claude-opus-4.5,") == ["gpt-5", "claude-opus-4.5"]
    assert set_setting(paths, "max_cost_usd", "0.05") == 0.05
    assert set_setting(paths, "chat.history", "off") is False
    assert set_setting(paths, "providers.lab.base_url", "https://lab.example/v1")
    set_setting(paths, "providers.lab.models.claude-sonnet-4.5", "sonnet-local")
    settings = load_settings(paths)
    assert (settings.tier, settings.exclude, settings.max_cost_usd) == (
        "balanced",
        ["gpt-5", "claude-opus-4.5"],
        0.05,
    )
    assert settings.chat.history is False
    assert settings.providers["lab"].models == {"claude-sonnet-4.5": "sonnet-local"}
    assert [p.name for p in paths.config_dir.iterdir()] == ["config.toml"]
    # an empty value unsets an optional key; unset_setting says whether there was one
    assert set_setting(paths, "max_cost_usd", "") is None
    assert load_settings(paths).max_cost_usd is None
    assert unset_setting(paths, "providers.lab.models.claude-sonnet-4.5") is True
    assert unset_setting(paths, "system_prompt") is False
    assert load_settings(paths).providers["lab"].models == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_cost_usd", "cheap", "max_cost_usd: expected a number, got 'cheap'"),
        ("max_cost_usd", "-1", "max_cost_usd: must be greater than 0, got -1.0"),
        ("tier", "fastest", "tier: unknown tier 'fastest'; choose one of frontier, balanced, "),
        ("chat.history", "maybe", "chat.history: expected true or false, got 'maybe'"),
        ("providers.lab.key_env", "has space", "providers.lab.key_env: expected an environment"),
        ("provider_order", "nope", "key 'provider_order': unknown provider 'nope'"),
    ],
)
def test_set_setting_rejects_bad_values(paths: Paths, key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        set_setting(paths, key, value)
    assert message in str(exc.value)
    assert not paths.config_file.exists()  # nothing written


def test_set_setting_unknown_key_lists_valid_keys(paths: Paths) -> None:
    with pytest.raises(ConfigError) as exc:
        set_setting(paths, "teir", "balanced")
    assert str(exc.value) == f"unknown setting 'teir' (valid keys: {', '.join(VALID_KEYS)})"
    assert "providers.NAME.models.MODEL_ID" in VALID_KEYS
