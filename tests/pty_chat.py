"""`kilo chat` in a pseudo-terminal for the tests under tests/e2e/chat (a helper, not a test file).

`Term` drives the real `kilo chat` on a pty and draws it into a terminal emulator (pyte); the
`home` and `chat` fixtures give each test a fresh home sharing conftest's warmed cache and a
started chat against the loopback fake server.
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


def chat_store(home: Path) -> Store:
    return Store(home / "data" / "kilocli.db")
