"""The REPL's keys, loop, completion and toolbar, driven through a pipe (no TTY, no network)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from kilocli.chat.app import ChatUI, toolbar_fragments
from kilocli.chat.handlers import REGISTRY
from kilocli.chat.session import ChatSession, Loader
from kilocli.config import get_paths
from kilocli.errors import KiloError
from kilocli.settings import Settings
from kilocli.store import Store
from kilocli.ui.chat_view import ChatView


def _console() -> Console:
    return Console(file=io.StringIO(), width=100, color_system=None, emoji=False)


def _unavailable() -> object:
    raise KiloError("no pools here")


@pytest.fixture
def session(tmp_path: Path) -> ChatSession:
    paths = get_paths()
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    return ChatSession(
        paths,
        Settings(),
        loader=Loader(_unavailable),  # type: ignore[arg-type]
        make_engine=lambda router: pytest.fail("no turn is sent in these tests"),
        store=Store(paths.database),
        view=ChatView(_console(), _console()),
        tier="auto-efficient",
        cwd=tmp_path,
    )


@pytest.fixture
def ui(session: ChatSession) -> Iterator[tuple[ChatUI, object]]:
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        chat_ui = ChatUI(session, input=pipe, output=DummyOutput())
        yield chat_ui, pipe
        chat_ui.worker.close()


def _err(session: ChatSession) -> str:
    return session.view.err.file.getvalue()  # type: ignore[attr-defined]


def test_enter_sends_and_alt_enter_inserts_a_newline(ui):
    chat_ui, pipe = ui
    pipe.send_text("first line\x1b\rsecond line\r")
    assert chat_ui.prompt.prompt() == "first line\nsecond line"


def test_ctrl_j_inserts_a_newline_too(ui):
    chat_ui, pipe = ui
    pipe.send_text("a\nb\r")
    assert chat_ui.prompt.prompt() == "a\nb"


def test_a_bracketed_paste_stays_one_turn(ui):
    chat_ui, pipe = ui
    pasted = "\n".join(f"line {i}" for i in range(500))
    pipe.send_text("\x1b[200~" + pasted + "\x1b[201~\r")
    assert chat_ui.prompt.prompt() == pasted


def _typed_slowly(pipe, *parts: str) -> None:  # type: ignore[no-untyped-def]
    """Completions arrive asynchronously: pause between keys, as a person would."""
    for i, part in enumerate(parts):
        threading.Timer(0.2 * i, pipe.send_text, [part]).start()


def test_tab_completes_a_command_name(ui):
    chat_ui, pipe = ui
    _typed_slowly(pipe, "/expl", "\t", "\r")
    assert chat_ui.prompt.prompt() == "/explain"


def test_tab_completes_a_tier(ui):
    chat_ui, pipe = ui
    _typed_slowly(pipe, "/tier fro", "\t", "\r")
    assert chat_ui.prompt.prompt() == "/tier frontier"


def test_tab_completes_a_path(ui, session):
    (session.cwd / "src").mkdir()
    (session.cwd / "src" / "parser.py").write_text("x = 1\n")
    chat_ui, pipe = ui
    # Enter on a folder keeps the line open; on a file it sends
    _typed_slowly(pipe, "/add sr", "\t", "\r", "pa", "\t", "\r")
    assert chat_ui.prompt.prompt() == "/add src/parser.py"


def test_the_loop_runs_commands_reports_errors_and_exits_on_ctrl_d(ui, session):
    chat_ui, pipe = ui
    (session.cwd / "notes.md").write_text("# notes\n")
    pipe.send_text("/tier free\r/tier cheap\r/nope\r/add notes.md missing.md\r/files\r\x04")
    assert chat_ui.run() == 0
    err = _err(session)
    assert "tier: free" in err
    assert session.route.tier == "free"
    assert "error: /tier: unknown tier 'cheap'; choose one of" in err
    assert "error: unknown command /nope" in err
    assert "added notes.md (" in err
    assert "error: missing.md: no such file" in err
    assert "notes.md" in session.conversation.files


def test_exit_command_ends_the_loop(ui, session):
    chat_ui, pipe = ui
    pipe.send_text("/help\r/exit\r")
    assert chat_ui.run() == 0
    assert "/retry [--up]" in _err(session)


def test_a_turn_waits_for_routing_and_reports_why_it_cannot_run(ui, session):
    chat_ui, pipe = ui
    session.loader.start()
    pipe.send_text("fix the bug\r\x04")
    assert chat_ui.run() == 0
    assert "error: no pools here" in _err(session)


def _plain(frags) -> str:  # type: ignore[no-untyped-def]
    return "".join(text for _, text in frags)


def test_toolbar_before_routing_has_loaded(ui, session):
    chat_ui, _ = ui
    line = _plain(toolbar_fragments(session, REGISTRY, "fix the bug", chat_ui.worker))
    assert line == " auto-efficient · routing loads…"


def test_toolbar_explains_the_command_being_typed(ui, session):
    chat_ui, _ = ui
    assert _plain(toolbar_fragments(session, REGISTRY, "/ti", chat_ui.worker)) == (
        " auto-efficient · /tier NAME: switch tier for the next turns"
    )
    assert _plain(toolbar_fragments(session, REGISTRY, "/tire x", chat_ui.worker)) == (
        " auto-efficient · unknown /tire (/tier?)"
    )


def test_toolbar_says_when_routing_failed(ui, session):
    chat_ui, _ = ui
    session.loader.start()
    session.loader._done.wait(5)
    session.route.pin = "gpt-5-mini"
    line = _plain(toolbar_fragments(session, REGISTRY, "hello", chat_ui.worker))
    assert line == " auto-efficient · pinned gpt-5-mini · routing unavailable: no pools here"
