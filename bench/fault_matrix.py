"""The fault matrix: each fault a provider or the machine can throw at `kilo`, tried with the real
CLI against the loopback provider server, one line per case: exit code, seconds, requests the
server saw, and what the store kept (status and characters of the answer).

The limits are set short so that the whole matrix runs in about a minute (first byte and idle
3 s, connect 2 s, whole call 20 s); the defaults are 60, 30, 10 and 120 s. The first run makes the
one-time encoder export unless --cache points at a warmed cache folder (a home's cache/).

Usage: python bench/fault_matrix.py [--cache DIR] [--with-export]
  --with-export  also route with an unusable cache folder (a fresh export in a temporary folder)
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_io import print_report
from fakeserver import BlackHole, FakeServer

KEY = "sk-fault-matrix-0123456789"
PROMPT = "explain how python closures capture variables"
LIMITS = {
    "first_byte_timeout_s": "3",
    "idle_timeout_s": "3",
    "connect_timeout_s": "2",
    "timeout_s": "20",
}


@dataclass
class Outcome:
    code: int
    seconds: float
    requests: int
    stored: str  # "status, N chars" of the last turn, or what is there instead
    said: str  # the most telling stderr line


def _env(home: Path, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.pop("OLLAMA_HOST", None)
    env.update(KILOCLI_HOME=str(home), OPENAI_BASE_URL=base_url, OPENAI_API_KEY=KEY)
    return env


def _kilo(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "kilocli", *args]


def _stored(home: Path) -> str:
    db = home / "data" / "kilocli.db"
    if not db.is_file():
        return "no store"
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT status, length(answer) FROM turns ORDER BY id DESC").fetchone()
    except sqlite3.Error as exc:
        return f"store: {exc}"
    finally:
        conn.close()
    return "no turn" if row is None else f"{row[0]}, {row[1] or 0} chars"


def _said(err: str) -> str:
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    telling = [ln for ln in lines if ln.startswith(("error", "warning", "kilo:", "cache folder"))]
    pick = telling[-1] if telling else (lines[-1] if lines else "")
    return pick if len(pick) <= 150 else pick[:149] + "…"


def run_case(
    home: Path,
    server: FakeServer,
    args: list[str],
    *,
    base_url: str | None = None,
    signal_after: tuple[bytes, int] | None = None,
) -> Outcome:
    before = len(server.requests)
    env = _env(home, base_url or server.url)
    started = time.monotonic()
    proc = subprocess.Popen(
        _kilo(args),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if signal_after is not None:
        wanted, signum = signal_after
        assert proc.stdout is not None
        proc.stdout.read(len(wanted))
        proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    seconds = time.monotonic() - started
    return Outcome(
        proc.returncode,
        seconds,
        len(server.requests) - before,
        _stored(home),
        _said(err.decode("utf-8", "replace")) or _said(out.decode("utf-8", "replace")[:300]),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, help="a warmed cache folder to share (no export)")
    parser.add_argument("--with-export", action="store_true")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kilocli-faults-"))
    cache = args.cache
    if cache is None:
        cache = root / "shared" / "cache"
        setup_env = _env(root / "shared", "http://127.0.0.1:9/v1")
        subprocess.run(_kilo(["setup"]), env=setup_env, capture_output=True, check=True)

    def home(name: str) -> Path:
        path = root / name
        path.mkdir()
        (path / "cache").symlink_to(cache.resolve(), target_is_directory=True)
        for key, value in LIMITS.items():
            subprocess.run(
                _kilo(["config", "set", key, value]),
                env=_env(path, "http://127.0.0.1:9/v1"),
                capture_output=True,
                check=True,
            )
        return path

    pinned = ["ask", "--model", "gpt-5", PROMPT]
    routed = ["ask", PROMPT]
    words = " ".join(f"w{i}" for i in range(50_000))
    cases: list[tuple[str, Callable[[FakeServer], Outcome]]] = []

    def case(name: str) -> Callable[[Callable[[FakeServer], Outcome]], None]:
        def add(fn: Callable[[FakeServer], Outcome]) -> None:
            cases.append((name, fn))

        return add

    @case("baseline answer")
    def _(s: FakeServer) -> Outcome:
        s.script(answer="one two three")
        return run_case(home("ok"), s, pinned)

    @case("429 with Retry-After: 1")
    def _(s: FakeServer) -> Outcome:
        s.script(["429:1"], answer="after the wait")
        return run_case(home("r429"), s, pinned)

    @case("500 x3, then the fallback model")
    def _(s: FakeServer) -> Outcome:
        s.script(["500", "500", "500"], answer="from the fallback")
        return run_case(home("r500"), s, routed)

    @case("401 bad key")
    def _(s: FakeServer) -> Outcome:
        s.script(["401"])
        return run_case(home("r401"), s, pinned)

    @case("connect never completes")
    def _(s: FakeServer) -> Outcome:
        with BlackHole() as hole:
            return run_case(home("connect"), s, pinned, base_url=hole.url)

    @case("stall before headers (pinned)")
    def _(s: FakeServer) -> Outcome:
        s.script(["timeout:60"])
        return run_case(home("nohead"), s, pinned)

    @case("stall before headers (routed: fallback)")
    def _(s: FakeServer) -> Outcome:
        s.script(["timeout:60"], answer="from the fallback")
        return run_case(home("nohead2"), s, routed)

    @case("headers, then keep-alives only")
    def _(s: FakeServer) -> Outcome:
        s.script(["keepalive:60"])
        return run_case(home("keepalive"), s, pinned)

    @case("stall mid-stream")
    def _(s: FakeServer) -> Outcome:
        s.script(["stall:2:60"], answer="one two three four")
        return run_case(home("stall"), s, pinned)

    @case("stream cut after 2 chunks")
    def _(s: FakeServer) -> Outcome:
        s.script(["cut:2"], answer="one two three four")
        return run_case(home("cut"), s, pinned)

    @case("malformed SSE event after 1 chunk")
    def _(s: FakeServer) -> Outcome:
        s.script(["malformed:1"], answer="one two three four")
        return run_case(home("malformed"), s, pinned)

    @case("huge answer (50k chunks, 340 kB)")
    def _(s: FakeServer) -> Outcome:
        s.script(answer=words)
        return run_case(home("huge"), s, pinned)

    @case("whole call over --timeout 4")
    def _(s: FakeServer) -> Outcome:
        s.script(answer="slow " * 40, chunk_delay=0.5)
        return run_case(home("whole"), s, [*pinned[:-1], "--timeout", "4", PROMPT])

    @case("SIGTERM mid-stream")
    def _(s: FakeServer) -> Outcome:
        s.script(["stall:1:60"], answer="first second third")
        return run_case(home("term"), s, pinned, signal_after=(b"first", signal.SIGTERM))

    @case("SIGHUP mid-stream")
    def _(s: FakeServer) -> Outcome:
        s.script(["stall:1:60"], answer="first second third")
        return run_case(home("hup"), s, pinned, signal_after=(b"first", signal.SIGHUP))

    @case("data folder is a file (ask)")
    def _(s: FakeServer) -> Outcome:
        h = home("nodata")
        (h / "data").write_text("in the way")
        s.script(answer="never stored")
        return run_case(h, s, pinned)

    @case("data folder is a file (route)")
    def _(s: FakeServer) -> Outcome:
        h = home("nodata2")
        (h / "data").write_text("in the way")
        return run_case(h, s, ["route", PROMPT])

    if args.with_export:

        @case("cache folder is a file (route)")
        def _(s: FakeServer) -> Outcome:
            h = root / "nocache"
            h.mkdir()
            (h / "cache").write_text("in the way")
            return run_case(h, s, ["route", PROMPT])

    limits = ", ".join(f"{k}={v}" for k, v in LIMITS.items())
    lines = [f"fault matrix ({limits}); columns: exit, seconds, requests, stored, said"]
    for name, fn in cases:
        with FakeServer() as server:
            o = fn(server)
        lines.append(
            f"{name:<40} exit {o.code:>3}  {o.seconds:5.1f} s  {o.requests:>2} req  "
            f"{o.stored:<22} {o.said}"
        )
        print_report(lines[-1] if len(lines) > 2 else "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
