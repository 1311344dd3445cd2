"""Model and user text never reaches a terminal raw: `kilo ask` on a pseudo-terminal, `sessions
show/list`, `sessions export` (verbatim into a pipe), and provider error messages."""

from __future__ import annotations

import os
import sqlite3
import sys

import pytest

KEY = "sk-test-DO-NOT-LEAK-4242"
# clear the screen, write the clipboard (OSC 52), hide a link target (OSC 8), overwrite a line (CR)
HOSTILE = (
    "Sure.\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07 see \x1b]8;;https://evil.example\x07docs\x1b]8;;\x07"
    " done\rOVERWRITTEN\x9b31m"
)
RAW_SEQUENCES = (b"\x1b[2J", b"\x1b]52", b"\x1b]8;;https://evil", b"\x9b31m", b"\x07")


def _env(server) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY}


def test_ask_on_a_terminal_shows_no_escape_sequence_from_the_answer(kilo, fake_server):
    pexpect = pytest.importorskip("pexpect")
    fake_server.script(answer=HOSTILE)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        KILOCLI_HOME=str(kilo.home), HF_HUB_OFFLINE="1", TERM="xterm-256color", **_env(fake_server)
    )
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        sys.executable, ["-m", "kilocli", "ask", "--no-stdin", "say hi"], env=env, timeout=60
    )
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before
    assert child.exitstatus == 0, shown.decode("utf-8", "replace")
    assert "Sure." in shown.decode("utf-8", "replace")
    for raw in RAW_SEQUENCES:
        assert raw not in shown, raw
    assert "\u241b]52;c;" in shown.decode("utf-8", "replace")  # visible, not obeyed
    # stored verbatim
    db = sqlite3.connect(kilo.home / "data" / "kilocli.db")
    assert db.execute("SELECT answer FROM turns").fetchone()[0] == HOSTILE


def test_ask_into_a_pipe_is_verbatim(kilo, fake_server):
    fake_server.script(answer=HOSTILE)
    proc = kilo(["ask", "say hi"], env=_env(fake_server))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == HOSTILE + "\n"


def test_sessions_show_and_list_never_print_stored_controls(kilo, fake_server):
    fake_server.script(answer=HOSTILE)
    assert kilo(["ask", "title\x1b]52;c;eA==\x07 here"], env=_env(fake_server)).returncode == 0
    shown = kilo(["sessions", "show", "last"])
    listed = kilo(["sessions", "list"])
    for proc in (shown, listed):
        assert proc.returncode == 0, proc.stderr.decode()
        for raw in RAW_SEQUENCES:
            assert raw not in proc.stdout, raw
    assert "\u241b]52;c;eA==" in listed.stdout.decode()  # the title, made visible
    assert "OVERWRITTEN" in shown.stdout.decode() and "\u241b[2J" in shown.stdout.decode()
    # export writes what was stored into a pipe or file, verbatim
    exported = kilo(["sessions", "export", "last"])
    assert HOSTILE.encode() in exported.stdout


def test_a_provider_error_message_is_shown_with_its_controls_visible(kilo, fake_server):
    from fakeserver import bad_request

    fake_server.script(faults=[bad_request("bad \x1b[2Jrequest\x1b]52;c;eA==\x07")])
    proc = kilo(["ask", "hello there"], env=_env(fake_server))
    assert proc.returncode == 1
    for raw in RAW_SEQUENCES:
        assert raw not in proc.stderr, raw
    assert "bad \u241b[2Jrequest" in proc.stderr.decode()
