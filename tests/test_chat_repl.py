"""A real `kilo chat` in a pseudo-terminal, against the loopback provider server.

The child draws into a terminal emulator (pyte) so assertions are about what a person would see:
the toolbar's route, the streamed answer, the status line. The store and the server's recorded
requests say what really happened.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

from kilocli.store import Store  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "kilo›"
COLS, ROWS = 120, 40
ANSI = re.compile(
    rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78cDEHMZ]|\x1b\][^\x07]*\x07"
)
ANSWER = "Generators **yield** values one at a time, lazily."


class Term:
    """`kilo chat` on a pty; `screen` is what is visible, `log` everything it ever wrote."""

    def __init__(
        self, args: list[str], env: dict[str, str], cwd: Path, *, sigint_ignored: bool = False
    ) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.log = ""
        self.mark = 0
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "kilocli", "chat", *args],
            env=env,
            cwd=str(cwd),
            dimensions=(ROWS, COLS),
            # as a background job or some CI runners start it: SIGINT ignored from the start
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
            if sigint_ignored
            else None,
        )
        # prompt-toolkit asks the terminal where the cursor is: let the emulator answer
        self.screen.write_process_input = lambda data: self.child.send(data.encode())

    def pump(self, timeout: float = 0.02) -> None:
        try:
            data = self.child.read_nonblocking(1 << 16, timeout=timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            raise AssertionError("kilo chat exited; it last showed:\n" + self.text()) from None
        self.stream.feed(data)
        self.log += ANSI.sub(b"", data).decode("utf-8", "replace")

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    @property
    def toolbar(self) -> str:
        return self.screen.display[-1]

    def wait(
        self, predicate: Callable[[Term], bool], timeout: float = 30.0, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{self.text()}")
            self.pump()

    def expect_log(self, text: str, timeout: float = 30.0) -> None:
        """`text` was written since the last command() was typed."""
        self.wait(lambda t: text in t.since_mark(), timeout, repr(text))

    def expect_toolbar(self, text: str, timeout: float = 30.0) -> None:
        self.wait(lambda t: text in t.toolbar, timeout, f"toolbar {text!r}")

    def at_prompt(self) -> bool:
        line = self.screen.display[self.screen.cursor.y]
        return line.startswith(PROMPT) and line[len(PROMPT) :].strip() == ""

    def wait_prompt(self, timeout: float = 30.0) -> None:
        self.wait(Term.at_prompt, timeout, "an empty prompt")

    def type(self, text: str) -> None:
        self.child.send(text)
        self.pump()

    def command(self, line: str) -> None:
        """Type a line and press Enter, after the prompt is drawn again and empty."""
        self.wait_prompt()
        self.mark = len(self.log)
        self.type(line + "\r")

    def since_mark(self) -> str:
        return self.log[self.mark :]

    def exit(self) -> int:
        self.wait_prompt()
        self.child.sendcontrol("d")
        # keep emulating the terminal while it closes: prompt-toolkit may still ask where the
        # cursor is, and a real terminal always answers
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                self.stream.feed(self.child.read_nonblocking(1 << 16, timeout=0.05))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                break
        else:
            raise AssertionError(
                "kilo chat did not exit on Ctrl-D; it last showed:\n" + self.text()
            )
        self.child.close()
        return self.child.exitstatus


@pytest.fixture
def home(tmp_path: Path, shared_cache: Path) -> Path:
    """A fresh home sharing conftest's warmed cache: no chat pays the one-time export inside a
    timed wait (on a busy first run that export alone can take half a minute)."""
    home = Path(os.environ["KILOCLI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    return home


@pytest.fixture
def chat(fake_server, home: Path, tmp_path: Path) -> Iterator[Callable[..., Term]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and k not in ("OLLAMA_HOST", "NO_COLOR")
    }
    env.update(
        TERM="xterm-256color",
        # the child runs in a scratch folder: import this checkout even without an install
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        KILOCLI_HOME=str(home),
        OPENAI_BASE_URL=fake_server.url,
        OPENAI_API_KEY="sk-test-openai",
        ANTHROPIC_BASE_URL=fake_server.url,
        ANTHROPIC_API_KEY="sk-ant-test",
    )
    work = tmp_path / "work"
    work.mkdir()
    fake_server.script(answer=ANSWER)
    terms: list[Term] = []

    def start(*args: str, sigint_ignored: bool = False) -> Term:
        term = Term(list(args), env, work, sigint_ignored=sigint_ignored)
        terms.append(term)
        term.wait(lambda t: PROMPT in t.text(), 30, "the prompt")
        term.wait(lambda t: t.toolbar.strip() != "", 30, "the toolbar")
        term.wait(lambda t: "routing loads" not in t.toolbar, 180, "routing to load")
        return term

    yield start
    for term in terms:
        if term.child.isalive():
            term.child.terminate(force=True)


def _store(home: Path) -> Store:
    return Store(home / "data" / "kilocli.db")


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
    turns = _store(home).session("last").turns
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
    turn = _store(home).session("last").turns[-1]
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
        turns = _store(home).session("last").turns
        return bool(turns) and turns[-1].answer == "uno dos"

    term.wait(stalled, 30, "the partial answer in the store")
    term.child.kill(signal.SIGTERM)
    term.child.expect(pexpect.EOF, timeout=30)
    term.child.close()
    assert term.child.exitstatus == 128 + signal.SIGTERM
    turn = _store(home).session("last").turns[-1]
    assert turn.status == "interrupted"
    assert turn.answer == "uno dos"


def test_resume_shows_history_and_continues_with_it(chat, fake_server, home):
    term = chat()
    term.command("what is a closure")
    term.expect_log(" out · turn $")
    assert term.exit() == 0
    sid = _store(home).latest_session_id()
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
    assert len(_store(home).session(sid).turns) == 2


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
