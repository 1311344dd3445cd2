"""The `kilo` command line: one module per command in this package, each with a ``register(cli)``
that adds its command (or its group) to the app; `main` turns every error into one line."""

from __future__ import annotations

import contextlib
import os

# Multi-threaded BLAS makes tiny matrix products slow and jittery on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys

import typer

from kilocli import output
from kilocli.cli.failures import (
    database_error_line,
    environment_error_line,
    usage_error_line,
)
from kilocli.completion import explicit_shell_args
from kilocli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, KiloError
from kilocli.signals import Terminated

__all__ = ["app", "database_error_line", "environment_error_line", "main", "register_commands"]

app = typer.Typer(
    name="kilo",
    help="kilocli: a coding assistant that sends each request to the cheapest adequate model.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (kilocli/completion.py)
    # never print locals: keys live in them
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# one module of this package per command, in the order `kilo --help` lists them (typer puts the
# single commands before the groups whatever the order of registration)
COMMANDS = (
    "route",
    "ask",
    "chat",
    "models",
    "serve",
    "setup",
    "stats",
    "auth",
    "config",
    "sessions",
    "examples",
)


@app.callback()
def _group() -> None:
    # a callback keeps `kilo` a group even when main() registers a single command
    pass


def register_commands(cli: typer.Typer = app, only: str | None = None) -> None:
    """Add every command to ``cli`` (once), or just ``only``: a cold `kilo route` then imports
    none of the other commands' modules."""
    import importlib

    done: set[str] = cli.__dict__.setdefault("_kilo_registered", set())
    for name in COMMANDS if only is None else (only,):
        if name not in done:
            importlib.import_module(f"kilocli.cli.{name}").register(cli)
            done.add(name)


def _command_in(args: list[str]) -> str | None:
    """The command a command line runs, when it surely names one; None means register them all
    (help, completion, a misspelt name that click should suggest a correction for)."""
    if os.environ.get("_KILO_COMPLETE") or os.environ.get("_KILOCLI_COMPLETE"):
        return None
    first = args[0] if args else None
    return first if first in COMMANDS else None


def main() -> None:
    """Entry point: every error becomes one line on stderr and its exit code; no tracebacks."""
    try:
        register_commands(only=_command_in(sys.argv[1:]))
        args = explicit_shell_args(sys.argv[1:])
        # not standalone: click's usage errors reach us, to be printed as one line
        # `--show-completion zsh`: the shell may be named (typer alone only detects it)
        code = app(args=args, standalone_mode=False, prog_name="kilo")
    except KiloError as exc:
        output.error(exc.message)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        output.error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Terminated as exc:  # SIGTERM/SIGHUP in chat: its turn is recorded already
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            output.error(str(exc))
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not our failure
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:
        if os.environ.get("KILOCLI_DEBUG"):
            raise
        output.error(environment_error_line(exc))
        sys.exit(EXIT_FAILURE)
    except Exception as exc:  # last resort: one line, no locals, no key
        if type(exc).__module__ == "sqlite3" and not os.environ.get("KILOCLI_DEBUG"):
            output.error(database_error_line(exc))  # sqlite3 is not imported up front: cold start
            sys.exit(EXIT_FAILURE)
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            if exc.format_message():  # type: ignore[attr-defined]
                output.error(usage_error_line(exc))
            else:  # no_args_is_help: click has shown the help already
                getattr(exc, "show", lambda: None)()
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if os.environ.get("KILOCLI_DEBUG"):
            raise
        output.error(
            f"internal error: {type(exc).__name__}: {exc} (set KILOCLI_DEBUG=1 for details)"
        )
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
