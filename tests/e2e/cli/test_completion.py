"""Shell completion: scripts for bash, zsh and fish, and real completion requests to `kilo`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kilocli.config import get_paths
from kilocli.routing.pools import load_catalogue
from kilocli.routing.taxonomy import TIERS
from kilocli.store import Store


def _kilo(*args: str, env: dict[str, str] | None = None, importtime: bool = False):
    full = {k: v for k, v in os.environ.items() if not k.startswith("_KILO")}
    full.update(env or {})
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "kilocli", *args]
    return subprocess.run(
        cmd, env=full, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def _bash(line: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """What the bash script does on Tab: COMP_WORDS is the line, COMP_CWORD the last word."""
    words = line.split(" ")
    env = {"_KILO_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    return _kilo(env={**env, **extra}, importtime=True)


def _nothing_heavy(proc: subprocess.CompletedProcess[str]) -> None:
    """-X importtime lists every module the completion process imported: nothing heavy on Tab."""
    imported = proc.stderr
    assert "kilocli.completion" in imported
    for heavy in ("numpy", "onnxruntime", "tokenizers", "kilocli.routing.encoder"):
        assert f" {heavy}\n" not in imported and f" {heavy}." not in imported


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "_KILO_COMPLETE=complete_bash"),
        ("zsh", "#compdef kilo"),
        ("fish", "complete --command kilo"),
    ],
)
def test_a_completion_script_for_each_shell(shell, marker):
    proc = _kilo("--show-completion", shell)
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout
    assert "_KILO_COMPLETE" in proc.stdout


def test_the_shell_is_detected_when_not_named():
    # the nearest parent shell is dash, which has no completion: $SHELL decides
    env = {**os.environ, "SHELL": "/usr/bin/fish"}
    env.pop("_KILO_COMPLETE", None)
    line = f"'{sys.executable}' -m kilocli --show-completion; true"
    proc = subprocess.run(["dash", "-c", line], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("complete --command kilo")


def test_an_unknown_shell_is_a_one_line_usage_error():
    proc = _kilo("--show-completion", "tcsh")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "'--show-completion': 'tcsh' is not one of" in proc.stderr


def test_install_writes_the_script_under_home(tmp_path):
    proc = _kilo("--install-completion", "bash", env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / ".bash_completions" / "kilo.sh"
    assert "_KILO_COMPLETE=complete_bash" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


def test_tier_names_complete_without_loading_the_encoder():
    proc = _bash("kilo ask --tier ")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == list(TIERS)
    assert proc.stdout.split() != []
    _nothing_heavy(proc)
    assert _bash("kilo route -t bal").stdout.split() == ["balanced"]


def test_model_ids_complete_from_the_catalogue():
    catalogue = sorted(load_catalogue(get_paths()).models)
    claude = [m for m in catalogue if m.startswith("claude-")]
    assert claude  # the shipped catalogue has some
    proc = _bash("kilo ask --model claude-")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == claude
    _nothing_heavy(proc)
    assert _bash("kilo chat -m ").stdout.split() == catalogue


def test_session_ids_complete_from_the_store():
    with Store(get_paths().database) as store:
        first = store.new_session("ask", "balanced", "first one")
        second = store.new_session("chat", "free", "second \x1b[2J one")
    proc = _bash("kilo sessions show ")
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == {"last", first, second}
    _nothing_heavy(proc)
    # ids begin with their time: two made a moment apart can share 8 characters, so the prefix
    # typed is one character past what they share
    shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    assert _bash(f"kilo ask --session {second[: shared + 1]}").stdout.split() == [second]
    # zsh shows each id with its title, made safe for the terminal
    zsh = _kilo(
        env={"_KILO_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "kilo chat --resume "}
    )
    assert zsh.returncode == 0, zsh.stderr
    assert first in zsh.stdout and "first one" in zsh.stdout
    assert "\x1b" not in zsh.stdout and "␛[2J" in zsh.stdout


def test_no_database_yet_completes_nothing_and_creates_nothing():
    proc = _bash("kilo sessions rm ")
    assert (proc.returncode, proc.stdout.strip()) == (0, "")
    assert not get_paths().database.exists()


def test_what_if_completes_tier_names():
    assert _bash("kilo stats --what-if f").stdout.split() == ["frontier", "free"]
