"""How fast `kilo chat` feels, measured on a real pseudo-terminal against the loopback provider.

Prints three figures (targets from the README in brackets):
  time to a usable prompt        spawn -> prompt drawn and accepting keys     [<= 0.6 s]
  toolbar update latency         last keystroke -> fresh route in the toolbar,
                                 minus the 150 ms debounce pause               [<= 50 ms]
  resident memory after 10 turns RSS of the chat process                       [<= 400 MB]

Usage: python bench/chat_speed.py [--runs N]
The encoder export is made once in a scratch KILOCLI_HOME before timing (as `kilo setup` would).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect
import psutil
import pyte

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import FakeServer  # noqa: E402 - the providers' loopback server, shared with tests

PROMPT = "kilo›"
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78cDEHMZ]")
DEBOUNCE_S = 0.15
COLS, ROWS = 120, 40


class Term:
    """A child process on a pty, with the screen it draws kept by a terminal emulator."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.log = ""  # everything written, escape sequences removed
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "kilocli", *args],
            env=env,
            dimensions=(ROWS, COLS),
            cwd=str(ROOT),
        )
        # answer the terminal queries prompt-toolkit makes (cursor position report)
        self.screen.write_process_input = lambda data: self.child.send(data.encode())

    def pump(self, timeout: float = 0.005) -> None:
        try:
            data = self.child.read_nonblocking(1 << 16, timeout=timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            raise RuntimeError("kilo chat exited:\n" + "\n".join(self.screen.display)) from None
        self.stream.feed(data)
        self.log += ANSI.sub(b"", data).decode("utf-8", "replace")

    def wait(self, predicate, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
        deadline = time.perf_counter() + timeout
        while not predicate(self):
            if time.perf_counter() > deadline:
                raise TimeoutError("screen:\n" + "\n".join(self.screen.display))
            self.pump()
        return time.perf_counter()

    def routing_ready(self) -> bool:
        bottom = self.screen.display[-1]
        return bottom.strip() != "" and "routing loads" not in bottom

    def has(self, text: str) -> bool:
        return any(text in line for line in self.screen.display)

    def toolbar_fresh(self) -> bool:
        """The bottom line shows a route for the current text (the model name is drawn bold)."""
        row = self.screen.buffer[ROWS - 1]
        return (
            any(row[x].bold and row[x].data.strip() for x in range(COLS))
            and "est." in self.screen.display[-1]
        )

    def at_prompt(self) -> bool:
        line = self.screen.display[self.screen.cursor.y]
        return line.startswith(PROMPT) and line[len(PROMPT) :].strip() == ""

    def close(self) -> None:
        self.wait(Term.at_prompt)
        time.sleep(0.1)  # Ctrl-D before the prompt reads keys would be the tty's EOF, not ours
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF, timeout=10)


def _env(home: str, server: FakeServer) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")
    }
    env.update(
        KILOCLI_HOME=home,
        HF_HUB_OFFLINE="1",
        TERM="xterm-256color",
        OPENAI_BASE_URL=server.url,
        OPENAI_API_KEY="sk-bench",
    )
    return env


def time_to_prompt(env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        term = Term(["chat"], env)
        out.append(term.wait(lambda t: t.has(PROMPT)) - start)
        term.wait(Term.routing_ready, 180)
        term.close()
    return out


def toolbar_latency(env: dict[str, str], texts: list[str]) -> list[float]:
    term = Term(["chat"], env)
    term.wait(lambda t: t.has(PROMPT) and t.routing_ready(), 60)
    out = []
    for text in texts:
        for ch in text:
            term.child.send(ch)
            typed = time.perf_counter()
            time.sleep(0.02)  # a fast typist: 50 keys/s, each within the debounce pause
            term.pump(0)
        done = term.wait(lambda t: t.toolbar_fresh())
        out.append(done - typed - DEBOUNCE_S)
        term.child.sendcontrol("c")  # clear the line; the toolbar drops the preview
        term.wait(lambda t: not t.toolbar_fresh())
    term.close()
    return out


def memory_after_turns(env: dict[str, str], turns: int) -> float:
    term = Term(["chat"], env)
    term.wait(lambda t: t.has(PROMPT))
    for i in range(turns):
        term.child.send(f"turn {i}: explain what a python generator is\r")
        term.wait(lambda t, i=i: t.log.count(" out · turn $") > i, 60)
    rss = psutil.Process(term.child.pid).memory_info().rss / 2**20
    term.close()
    return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    texts = [
        "fix the failing test in parser.py",
        "rename the variable x to count",
        "plan a migration from postgres to sqlite for the billing service",
        "why does this raise KeyError",
        "write a dockerfile for this flask app",
    ]
    with tempfile.TemporaryDirectory() as home, FakeServer() as server:
        env = _env(home, server)
        time_to_prompt(env, 1)  # warm-up: the one-time encoder export, OS file cache
        starts = time_to_prompt(env, args.runs)
        lat = toolbar_latency(env, texts)
        rss = memory_after_turns(env, 10)
    print(
        f"time to usable prompt:   median {statistics.median(starts):.3f} s"
        f"  max {max(starts):.3f} s  (target 0.6 s)"
    )
    print(
        f"toolbar update latency:  median {statistics.median(lat) * 1000:.0f} ms"
        f"  max {max(lat) * 1000:.0f} ms"
        f"  after the {DEBOUNCE_S * 1000:.0f} ms pause  (target 50 ms)"
    )
    print(f"resident memory, 10 turns: {rss:.0f} MB  (target 400 MB)")


if __name__ == "__main__":
    main()
