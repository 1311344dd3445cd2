"""Run the real `kilo serve` as a subprocess for tests and benches (a helper, not a test file).

``ServeProcess.start(home, env, args)`` launches ``python -m kilocli serve --port 0 ...``, waits
for its "listening on" line on stderr and exposes ``.url`` (``http://127.0.0.1:PORT/v1``),
``.root`` and the stderr lines seen so far. ``stop()`` sends SIGTERM and waits for the exit.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_LISTENING = re.compile(r"listening on (http://\S+?)/v1")


class ServeProcess:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.root = ""
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            match = _LISTENING.search(line)
            if match and not self.root:
                self.root = match.group(1)
                self._ready.set()
        self._ready.set()

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    @classmethod
    def start(
        cls,
        home: Path,
        env: dict[str, str],
        args: tuple[str, ...] = (),
        timeout: float = 60.0,
    ) -> ServeProcess:
        full = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        full.update(KILOCLI_HOME=str(home), HF_HUB_OFFLINE="1", NO_COLOR="1")
        full.update(env)
        proc = subprocess.Popen(
            [sys.executable, "-m", "kilocli", "serve", "--port", "0", *args],
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = cls(proc)
        if not server._ready.wait(timeout) or not server.root:
            server.kill()
            raise RuntimeError(f"kilo serve did not start: {server.stderr}")
        return server

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self, timeout: float = 60.0) -> int:
        self.terminate()
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def wait_until(predicate, timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
