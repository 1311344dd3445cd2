"""A real `kilo chat` in a pseudo-terminal, against the loopback provider server.

The child draws into a terminal emulator (pyte) so assertions are about what a person would see:
the toolbar's route, the streamed answer, the status line. The store and the server's recorded
requests say what really happened.
"""

from __future__ import annotations

import re
import signal

import pytest
from pty_chat import ANSWER, Term, chat_store, pexpect

pytestmark = pytest.mark.slow


def _user_message(request) -> str:  # type: ignore[no-untyped-def]
    return [m for m in request.body["messages"] if m["role"] == "user"][-1]["content"]


def test_a_turn_shows_route_answer_and_status(chat, fake_server, home):
    term = chat()
    term.type("explain what a python generator is")
    term.expect_toolbar("est. $")
    assert "explain/" in term.toolbar
    assert "→" in term.toolbar
    term.type("\r")
    term.expect_log("Generators yield values one at a time, lazily.")
    term.expect_log(" out · turn $")
    term.wait_prompt()
    status = [line for line in term.text().splitlines() if " in / " in line][-1]
    assert re.search(
        r"explain/\w+ · \d+ in / \d+ out · turn \$[\d.]+ · session \$[\d.]+ · \d+\.\d s", status
    )
    # the toolbar now carries the session's spend
    term.expect_toolbar("session $")
    assert len(fake_server.requests) == 1
    assert _user_message(fake_server.requests[0]) == "explain what a python generator is"
    assert term.exit() == 0
    turns = chat_store(home).session("last").turns
    assert [(t.status, t.answer) for t in turns] == [("ok", ANSWER)]
    # input history persists for the next chat (up-arrow)
    assert "explain what a python generator is" in (home / "data" / "chat_history").read_text()


def test_tier_model_retry_explain_and_cost(chat, fake_server):
    term = chat("--tier", "balanced")
    assert "balanced" in term.toolbar
    term.command("/tier auto-efficient")
    term.expect_log("tier: auto-efficient")
    term.expect_toolbar("auto-efficient")
    term.command("/model gpt-5-nano")
    term.expect_toolbar("pinned gpt-5-nano")
    # Alt+Enter (Esc, Enter) puts a newline in the same turn
    term.wait_prompt()
    term.type("rename the variable x to count\x1b\rin utils.py")
    term.expect_toolbar("gpt-5-nano")
    term.type("\r")
    term.expect_log("gpt-5-nano via openai")
    term.wait_prompt()
    assert fake_server.requests[-1].model == "gpt-5-nano"
    assert _user_message(fake_server.requests[-1]) == "rename the variable x to count\nin utils.py"
    term.command("/model auto")
    term.expect_log("model: auto")
    term.command("/retry")
    term.wait(lambda t: len(fake_server.requests) == 2, 30, "the retried call")
    term.expect_log(" out · turn $")
    assert _user_message(fake_server.requests[-1]) == "rename the variable x to count\nin utils.py"
    # the retried exchange replaced the first one: one user turn in context, not two
    assert [m["role"] for m in fake_server.requests[-1].body["messages"]] == ["user"]
    term.command("/explain")
    term.expect_log("candidates")
    term.command("/cost")
    term.expect_log("this session's spend")
    term.expect_log("gpt-5-nano")
    assert term.exit() == 0


def test_retry_up_goes_to_a_stronger_model_and_says_why(chat, fake_server):
    term = chat()
    term.command("rename the variable x to count in utils.py")
    term.expect_log(" out · turn $")
    first = fake_server.requests[-1].model
    term.command("/retry --up")
    term.expect_log(" out · turn $")
    second = fake_server.requests[-1].model
    assert second != first
    assert re.search(r"route: \S+ → \S+: ", term.since_mark())
    assert [m["role"] for m in fake_server.requests[-1].body["messages"]] == ["user"]
    assert term.exit() == 0


def test_files_unknown_commands_and_failures_keep_the_repl_usable(chat, fake_server, tmp_path):
    work = tmp_path / "work"
    (work / "parse.py").write_text("def parse(s):\n    return int(s)\n")
    (work / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    term = chat()
    term.command("/add parse.py")
    term.expect_log("added parse.py (")
    assert re.search(r"added parse\.py \(\d+ tokens\)", term.log)
    term.command("/add nope.py")
    term.expect_log("error: nope.py: no such file")
    term.command("/add logo.png")
    term.expect_log("error: logo.png: binary file, not added")
    term.command("/tire free")
    term.expect_log("error: unknown command /tire; did you mean /tier?")
    # a provider failure: an error line, then the prompt again
    fake_server.script(["401"])
    term.command("add a docstring to parse()")
    term.expect_log("error: ")
    term.wait_prompt()
    assert "Invalid API key" in term.since_mark() or "401" in term.since_mark()
    assert "sk-test" not in term.log
    # a stream cut mid-answer keeps what came, marked incomplete
    fake_server.script(["cut:3"])
    term.command("add a docstring to parse()")
    term.expect_log("incomplete")
    term.wait_prompt()
    fake_server.script(answer="Done: added the docstring.")
    term.command("add a docstring to parse()")
    term.expect_log("Done: added the docstring.")
    last = fake_server.requests[-1].body
    system = last.get("system") or next(
        (m["content"] for m in last["messages"] if m["role"] == "system"), ""
    )
    assert '<file path="parse.py">' in str(system)
    assert term.exit() == 0


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["default", "sigint-ignored"])
def test_ctrl_c_mid_stream_keeps_the_partial_answer(chat, fake_server, home, sigint_ignored):
    words = " ".join(f"word{i}" for i in range(400))
    fake_server.script(answer=words, chunk_delay=0.05)
    term = chat(sigint_ignored=sigint_ignored)
    term.command("explain the event loop in detail")
    term.expect_log("word20 ")
    term.child.sendcontrol("c")
    term.expect_log("stopped")
    term.wait_prompt()
    turn = chat_store(home).session("last").turns[-1]
    assert turn.status == "interrupted"
    assert turn.answer.startswith("word0 word1 word2")
    assert 20 < len(turn.answer.split()) < 400
    # Ctrl-C at the prompt clears the line and keeps the chat
    term.type("half a thought")
    term.child.sendcontrol("c")
    term.wait_prompt()
    fake_server.script(answer="still here", chunk_delay=0.0)
    term.command("are you there")
    term.expect_log("still here")
    # the stopped answer stayed in the context
    roles = [m["role"] for m in fake_server.requests[-1].body["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert term.exit() == 0


def test_sigterm_mid_stream_keeps_the_partial_answer_and_exits_143(chat, fake_server, home):
    fake_server.script(faults=["stall:2:60"], answer="uno dos tres cuatro")
    term = chat()
    term.command("explain the event loop in detail")
    term.expect_log("uno")

    def stalled(_: Term) -> bool:  # both words are in the store: the server has gone silent
        turns = chat_store(home).session("last").turns
        return bool(turns) and turns[-1].answer == "uno dos"

    term.wait(stalled, 30, "the partial answer in the store")
    term.child.kill(signal.SIGTERM)
    term.child.expect(pexpect.EOF, timeout=30)
    term.child.close()
    assert term.child.exitstatus == 128 + signal.SIGTERM
    turn = chat_store(home).session("last").turns[-1]
    assert turn.status == "interrupted"
    assert turn.answer == "uno dos"


def test_resume_shows_history_and_continues_with_it(chat, fake_server, home):
    term = chat()
    term.command("what is a closure")
    term.expect_log(" out · turn $")
    assert term.exit() == 0
    sid = chat_store(home).latest_session_id()
    fake_server.script(answer="Yes, the same closure.")
    term = chat("--resume", "last")
    term.expect_log(f"session {sid}")
    term.expect_log("› what is a closure")
    term.expect_log("Generators yield values one at a time")
    term.command("and in javascript?")
    term.expect_log("Yes, the same closure.")
    messages = fake_server.requests[-1].body["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        "what is a closure",
        "and in javascript?",
    ]
    assert term.exit() == 0
    assert len(chat_store(home).session(sid).turns) == 2


def test_a_ten_thousand_line_paste_is_one_turn(chat, fake_server):
    term = chat()
    lines = [f"line {i:05d}: value = compute({i})" for i in range(10_000)]
    pasted = "\x1b[200~" + "\n".join(lines) + "\x1b[201~"
    term.wait_prompt()
    data = pasted.encode()
    for start in range(0, len(data), 4096):  # keep reading while writing: no pty deadlock
        term.child.send(data[start : start + 4096])
        term.pump(0)
    term.type("\r")
    term.expect_log(" out · turn $", timeout=60)
    assert len(fake_server.requests) == 1
    sent = _user_message(fake_server.requests[0])
    assert sent.splitlines() == lines
    assert term.exit() == 0


def test_a_transcript_outgrowing_the_window_drops_the_oldest_turns(chat, fake_server, home):
    # a user override gives the pinned model a tiny window, so three turns outgrow it
    pools = home / "config" / "pools"
    pools.mkdir(parents=True)
    (pools / "tiny.toml").write_text(
        '[models."gpt-5-nano"]\ncontext_window = 3000\nmax_output_tokens = 1000\n'
    )
    term = chat("--model", "gpt-5-nano")
    paragraph = "the parser drops the last field when a line ends with a comma " * 50
    for i in range(4):
        term.command(f"question {i}: {paragraph}")
        term.expect_log(" out · turn $")
    assert "context: dropped the" in term.log
    assert "gpt-5-nano's 3,000-token window" in term.log
    sent = fake_server.requests[-1].body["messages"]
    users = [m["content"] for m in sent if m["role"] == "user"]
    assert users[-1].startswith("question 3:")
    assert not any(u.startswith("question 0:") for u in users)
    assert term.exit() == 0
