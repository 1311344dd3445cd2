"""`kilo config`: show the effective settings, change one, or print where the file lives."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kilocli import output
from kilocli.config import get_paths
from kilocli.errors import ConfigError

app = typer.Typer(help="Settings in config.toml: show, set, unset, path.", no_args_is_help=True)


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="config", help="Settings in config.toml: show, set, unset, path.")


@app.command()
def show() -> None:
    """Print the effective settings (defaults merged with config.toml) as TOML.

    Example:

      kilo config show
    """
    import tomli_w

    from kilocli.settings import effective_dict, load_settings, unset_keys

    paths = get_paths()
    settings = load_settings(paths)
    origin = str(paths.config_file) if paths.config_file.exists() else "no config file yet"
    lines = [f"# effective settings: defaults + {origin}"]
    lines += [f"# {key}: not set" for key in unset_keys(settings)]
    data = effective_dict(settings)
    for provider in data.get("providers", {}).values():
        # header values are often credentials (Authorization, x-api-key): show that one is set
        headers = provider.get("headers")
        if headers:
            provider["headers"] = {name: "(hidden)" for name in headers}
    output.write_answer("\n".join(lines) + "\n" + tomli_w.dumps(data))


@app.command("set")
def set_(
    key: Annotated[str, typer.Argument(help="A setting, e.g. tier or providers.ollama.enabled.")],
    value: Annotated[str, typer.Argument(help="Lists are comma-separated; '' unsets.")],
) -> None:
    """Change one setting in config.toml (checked before it is written).

    Keys: tier, quality, exclude, max_cost_usd, budget_session_usd, budget_daily_usd,
    budget_monthly_usd, system_prompt, provider_order, encoder_model_path, chat.history,
    chat.vi_mode, providers.NAME.(enabled|base_url|key_env|kind|free|max_tokens_field),
    providers.NAME.models.MODEL_ID, providers.NAME.headers.HEADER.

    Examples:

      kilo config set tier balanced

      kilo config set exclude gpt-5,claude-opus-4.5

      kilo config set max_cost_usd 0.05

      kilo config set budget_daily_usd 2

      kilo config set providers.ollama.enabled true

      kilo config set providers.lab.base_url http://gpu-box:8000/v1
    """
    from kilocli.settings import set_setting

    paths = get_paths()
    stored = set_setting(paths, key, value)
    if stored is None:
        output.note(f"unset {key} in {paths.config_file}")
    else:
        output.note(f"{key} = {json.dumps(stored, ensure_ascii=False)} in {paths.config_file}")


@app.command()
def unset(
    key: Annotated[str, typer.Argument(help="The setting to remove (its default applies again).")],
) -> None:
    """Remove a setting from config.toml so its default applies again.

    Example:

      kilo config unset max_cost_usd
    """
    from kilocli.settings import unset_setting

    paths = get_paths()
    if not unset_setting(paths, key):
        raise ConfigError(f"{key} is not set in {paths.config_file}")
    output.note(f"unset {key} in {paths.config_file}")


@app.command()
def path() -> None:
    """Print the path of config.toml (it may not exist yet).

    Example:

      $EDITOR "$(kilo config path)"
    """
    output.write_answer(f"{get_paths().config_file}\n")
