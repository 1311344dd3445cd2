"""Shell completion: what `kilo --show-completion` scripts ask for, and which shell is meant.

The callbacks run in a fresh `kilo` process on every Tab press, so they stay light: tier names
are a constant, model ids come from the pool TOML files, session ids from SQLite. Nothing here
imports numpy, onnxruntime or the encoder. Any failure completes nothing rather than print a
traceback into the user's command line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
FLAGS = ("--show-completion", "--install-completion")
SESSIONS_OFFERED = 30
# Typer reads this to let the two flags take the shell as their value instead of detecting it
_EXPLICIT_SHELL_VAR = "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"


def complete_tiers(incomplete: str) -> list[str]:
    from kilocli.routing.taxonomy import TIERS

    return [t for t in TIERS if t.startswith(incomplete)]


def complete_models(incomplete: str) -> list[str]:
    try:
        from kilocli.config import get_paths
        from kilocli.routing.pools import load_catalogue

        ids = sorted(load_catalogue(get_paths()).models)
    except Exception:  # a broken pool file: say so when the command runs, not on Tab
        return []
    return [m for m in ids if m.startswith(incomplete)]


def complete_session_ids(incomplete: str) -> list[tuple[str, str]]:
    """Recent session ids, with their titles as the help zsh and fish show beside them."""
    from kilocli.config import get_paths
    from kilocli.terminal_text import terminal_safe

    database = get_paths().database
    if not database.exists():
        return []
    try:
        from kilocli.store import Store

        with Store(database) as store:
            sessions = store.list_sessions(limit=SESSIONS_OFFERED)
    except Exception:
        return []
    out = [("last", "the most recently used session")] if "last".startswith(incomplete) else []
    for s in sessions:
        if s.id.startswith(incomplete.lower()):
            title = " ".join(terminal_safe(s.title or "").split())[:50]
            out.append((s.id, f"{s.kind}, {s.turns} turns: {title}" if title else s.kind))
    return out


def explicit_shell_args(argv: Sequence[str]) -> list[str] | None:
    """`kilo --show-completion [SHELL]`: the arguments with the shell made explicit (named, else
    detected from the parent processes, else $SHELL), or None when argv is something else."""
    if not argv or argv[0] not in FLAGS:
        return None
    if len(argv) > 1 and not argv[1].startswith("-"):
        shell = argv[1]
        rest = list(argv[2:])
    else:
        shell = _detect_shell()
        rest = list(argv[1:])
    os.environ[_EXPLICIT_SHELL_VAR] = "1"
    return [argv[0], shell, *rest]


def _detect_shell() -> str:
    try:
        import shellingham

        name, _ = shellingham.detect_shell()
        if name in SHELLS:
            return str(name)
    except Exception:  # no shell among the parents (a script, a test)
        pass
    name = os.path.basename(os.environ.get("SHELL", ""))
    return name or "bash"
