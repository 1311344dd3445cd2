"""`kilo auth`: store, list (masked) and remove API keys."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from kilocli import output
from kilocli.config import get_paths
from kilocli.errors import UsageError
from kilocli.ui.tables import emit_json, print_table, table

app = typer.Typer(
    help="API keys: set, list (masked), rm. The environment always wins over the keys file.",
    no_args_is_help=True,
)


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="auth", help="API keys: set, list (masked), rm.")


@app.command("set")
def set_(
    provider: Annotated[str, typer.Argument(help="openrouter, openai, anthropic or a custom one.")],
    from_stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the key from stdin instead of prompting.")
    ] = False,
) -> None:
    """Save a provider's key in the keys file (mode 0600). The key is never echoed.

    Examples:

      kilo auth set openrouter

      pass show openrouter | kilo auth set openrouter --stdin
    """
    from kilocli.keys import env_var_for_provider, mask, set_key

    paths = get_paths()
    env_var = env_var_for_provider(provider, paths)  # unknown provider: fail before asking
    if from_stdin:
        lines = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
        if len(lines) > 1:
            raise UsageError("--stdin: expected one key on one line")
        value = lines[0] if lines else ""
    else:
        value = typer.prompt(f"{provider} API key", hide_input=True, err=True)
    set_key(provider, value, paths)
    output.note(f"saved the {provider} key ({mask(value.strip())}) in {paths.keys_file}")
    if os.environ.get(env_var, "").strip():
        output.warn(f"{env_var} is set in the environment and takes precedence over the file")


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Providers and sources as JSON.")] = False,
) -> None:
    """Which providers have a key and where it comes from (env or file), masked.

    Examples:

      kilo auth list

      kilo auth list --json
    """
    from kilocli.keys import list_keys

    paths = get_paths()
    infos = list_keys(paths)
    if as_json:
        emit_json(
            [
                {
                    "provider": i.provider,
                    "env_var": i.env_var,
                    "source": i.source,
                    "key": i.masked,
                    "in_file": i.in_file,
                }
                for i in infos
            ]
        )
        return
    rows = table()
    for name in ("provider", "env var", "source", "key"):
        rows.add_column(name)
    for info in infos:
        source = info.source or "-"
        if info.source == "env" and info.in_file:
            source = "env (file too)"
        rows.add_row(info.provider, info.env_var or "-", source, info.masked or "not set")
    print_table(rows)
    output.note(f"keys file: {paths.keys_file}")


@app.command("rm")
def rm(
    provider: Annotated[str, typer.Argument(help="The provider whose stored key to delete.")],
) -> None:
    """Delete a provider's key from the keys file (an environment variable is left alone).

    Example:

      kilo auth rm openai
    """
    from kilocli.keys import remove_key
    from kilocli.settings import load_settings

    paths = get_paths()
    env_var = load_settings(paths).env_var_for(provider)
    in_env = bool(env_var and os.environ.get(env_var, "").strip())
    if not remove_key(provider, paths):
        hint = f"; {env_var} is set in the environment: unset it there" if in_env else ""
        raise UsageError(f"no {provider} key in {paths.keys_file}{hint}")
    output.note(f"removed the {provider} key from {paths.keys_file}")
    if in_env:
        output.warn(f"{env_var} is still set in the environment")
