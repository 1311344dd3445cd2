"""A session budget in a real `kilo chat` on a pseudo-terminal: the refusal is one line, the REPL
goes on, the transcript is kept, and the toolbar shows the budget's use."""

from __future__ import annotations

import pexpect
import pytest
from pty_chat import Term, chat_store

pytestmark = pytest.mark.slow


def test_a_session_budget_refuses_in_chat_and_the_repl_goes_on(chat, fake_server, home):
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("budget_session_usd = 0.1\n")
    fake_server.script(answer="First answer.", cost=0.099)
    term: Term = chat("--model", "gpt-5")
    term.command("explain what a python generator is")
    term.expect_log("First answer.")
    term.wait_prompt()
    term.expect_toolbar("budget session $0.099/$0.10")
    term.command("and what is a coroutine")
    term.expect_log("session budget reached")
    term.wait_prompt()
    refusal = [ln for ln in term.since_mark().splitlines() if "session budget reached" in ln]
    assert len(refusal) == 1 and refusal[0].startswith("error: ")
    assert "$0.099 of $0.10" in refusal[0] and "budget_session_usd" in refusal[0]
    assert len(fake_server.requests) == 1  # the refused turn never reached the provider
    term.command("/cost")  # still usable
    term.expect_log("this session's spend")
    term.command("/exit")
    term.child.expect(pexpect.EOF, timeout=15)
    term.child.close()
    assert term.child.exitstatus == 0
    turns = chat_store(home).session("last").turns
    assert [(t.prompt, t.status) for t in turns] == [
        ("explain what a python generator is", "ok"),
        ("and what is a coroutine", "error"),
    ]
    assert turns[0].answer == "First answer."
