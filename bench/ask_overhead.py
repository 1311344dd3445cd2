"""Client overhead of `kilo ask` against the loopback provider server.

Prints (1) a cold `kilo ask` from process start to the request reaching the server, and to exit;
(2) in a running process, the time from the routing decision to the first streamed byte being
shown (store write, request build, HTTP to 127.0.0.1 and back), which is the overhead the client
adds beyond the decision. Target (README, "Speed"): <= 15 ms beyond the routing decision.

Usage: python bench/ask_overhead.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakeserver import FakeServer

PROMPT = "write a commit message for a typo fix in the README"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))]


def wait_for_request(server: FakeServer, count: int, deadline: float) -> float | None:
    while time.perf_counter() < deadline:
        if len(server.requests) > count:
            return time.perf_counter()
        time.sleep(0.0005)
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="kilocli-bench-"))
    os.environ["KILOCLI_HOME"] = str(home)
    for var in ("OPENROUTER_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_HOST"):
        os.environ.pop(var, None)
    with FakeServer() as server:
        server.script(answer="Fix typo in README")
        env = dict(os.environ, OPENAI_BASE_URL=server.url, OPENAI_API_KEY="sk-bench")
        os.environ.update(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="sk-bench")
        subprocess.run(
            [sys.executable, "-m", "kilocli", "setup"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        to_request: list[float] = []
        to_exit: list[float] = []
        for _ in range(args.runs):
            before = len(server.requests)
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "kilocli", "ask", PROMPT],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            arrived = wait_for_request(server, before, started + 30)
            proc.wait()
            if arrived is not None:
                to_request.append(arrived - started)
            to_exit.append(time.perf_counter() - started)
        print(
            f"cold `kilo ask` ({args.runs} runs): process start -> request at the server median "
            f"{statistics.median(to_request) * 1000:.0f} ms; -> exit median "
            f"{statistics.median(to_exit) * 1000:.0f} ms"
        )

        from kilocli.app import App

        kilo = App.load()
        router = kilo.router()
        router.warm()
        engine = kilo.engine(kilo.store())
        session = engine.store.new_session("ask", "auto-efficient", "bench")
        decide_ms: list[float] = []
        overhead_ms: list[float] = []
        for i in range(max(30, args.runs)):
            t0 = time.perf_counter()
            decision = router.decide([f"{PROMPT} {i}"], tier="auto-efficient")
            t1 = time.perf_counter()
            first: list[float] = []
            lock = threading.Lock()

            def on_text(_: str, first: list[float] = first, lock: threading.Lock = lock) -> None:
                with lock:
                    if not first:
                        first.append(time.perf_counter())

            engine.run_turn(session, [], f"{PROMPT} {i}", decision, on_text=on_text)
            decide_ms.append((t1 - t0) * 1000)
            overhead_ms.append((first[0] - t1) * 1000)
        print(
            f"in-process routing decision: p50 {percentile(decide_ms, 50):.1f} ms, "
            f"p95 {percentile(decide_ms, 95):.1f} ms"
        )
        print(
            f"in-process decision -> first byte shown (client overhead + loopback server): p50 "
            f"{percentile(overhead_ms, 50):.1f} ms, p95 {percentile(overhead_ms, 95):.1f} ms "
            "(target <= 15 ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
