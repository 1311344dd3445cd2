"""Load on `kilo serve`: N concurrent streaming clients against a loopback upstream.

Each of N clients sends R streaming Chat Completions requests one after another (distinct
prompts, so each is routed and recorded on its own); the same load is first sent to the fake
upstream directly. Two rounds, each measured both ways:

- burst: every client joins within one answer's length (random start), so the first wave of N
  routings lands at once; every request counts.
- ramp: clients join evenly over --ramp seconds (as a load tester's spawn rate); each client's
  first request is reported apart as warm-up, the later ones as the steady state.

Prints the time to the first content token (p50/p95) both ways and what kilo serve adds, its
routing time (Server-Timing), requests per second, the CPU each process spends per request,
and the requests recorded in its store against those sent. With --sigterm, a
last round sends SIGTERM while N streams run and counts the records against the requests that
were answered. Target (issue 10): <= 20 ms added p95 to the first byte at 50 streams; nothing
unrecorded at 200.

Usage: python bench/serve_load.py [--clients 50] [--requests 3] [--words 20] [--chunk-delay 0.02]
       [--ramp 1.0] [--sigterm] [--profile FILE [--profile-mode gil]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402 - after the sys.path line above
import psutil  # noqa: E402
from serving import ServeProcess  # noqa: E402

TOPICS = ("parse()", "the config loader", "utils.py", "the retry loop", "the CLI", "a regex")
VERBS = ("add a docstring to", "write a unit test for", "explain", "rename a variable in")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))]


def start_upstream() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fakeserver.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def script_upstream(root: str, words: int, chunk_delay: float) -> None:
    answer = " ".join(f"word{i}" for i in range(words))
    body = {"answer": answer, "answer_fields": {"chunk_delay": chunk_delay}}
    httpx.post(f"{root}/_control/script", json=body, timeout=10).raise_for_status()


async def one_stream(client: httpx.AsyncClient, url: str, model: str, prompt: str) -> dict:
    """Seconds to the first content token and to the end; status; whether [DONE] came."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    started = time.perf_counter()
    first = None
    done = False
    status = 0
    route = None
    try:
        async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
            status = response.status_code
            route = route_ms(response.headers.get("server-timing", ""))
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                if first is None:
                    choices = json.loads(data).get("choices") or [{}]
                    if (choices[0].get("delta") or {}).get("content"):
                        first = time.perf_counter() - started
    except httpx.TransportError:
        pass
    return {
        "first": first,
        "total": time.perf_counter() - started,
        "status": status,
        "done": done,
        "route": route,
    }


def route_ms(server_timing: str) -> float | None:
    """kilo serve's time from arrival to decision, from its Server-Timing header."""
    for metric in server_timing.split(","):
        name, _, params = metric.strip().partition(";")
        if name == "route" and params.startswith("dur="):
            return float(params[4:])
    return None


async def run_load(
    url: str, model: str, clients: int, requests: int, spread: float, ramp: float = 0.0
) -> dict:
    """``spread``: each client starts at a random time within it (the burst); ``ramp``: client i
    starts at i * ramp / clients instead. Figures for all requests, and for the first request
    of each client ("warmup") and the later ones ("steady") apart."""
    limits = httpx.Limits(max_connections=clients + 16, max_keepalive_connections=clients + 16)
    results: list[dict] = []
    counter = iter(range(10**9))

    async def client_loop(client: httpx.AsyncClient, index: int) -> None:
        if ramp:
            await asyncio.sleep(index * ramp / clients)
        else:
            await asyncio.sleep(random.uniform(0, spread))
        for nth in range(requests):
            n = next(counter)
            prompt = f"{random.choice(VERBS)} {random.choice(TOPICS)} (request {n})"
            result = await one_stream(client, url, model, prompt)
            results.append({**result, "warmup": nth == 0})

    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client, i) for i in range(clients)))
        wall = time.perf_counter() - started
    return {
        **summary(results),
        "warmup": summary([r for r in results if r["warmup"]]),
        "steady": summary([r for r in results if not r["warmup"]]),
        "sent": len(results),
        "ok": sum(1 for r in results if r["done"]),
        "answered": sum(1 for r in results if r["status"] == 200),
        "wall": wall,
    }


def summary(results: list[dict]) -> dict:
    """p50 / p95 of the first content token (ms) and of the routing time, over ``results``."""
    firsts = [r["first"] * 1000 for r in results if r["first"] is not None]
    routes = [r["route"] for r in results if r["route"] is not None]
    nan = float("nan")
    return {
        "n": len(firsts),
        "p50": percentile(firsts, 50) if firsts else nan,
        "p95": percentile(firsts, 95) if firsts else nan,
        "route_p50": percentile(routes, 50) if routes else nan,
        "route_p95": percentile(routes, 95) if routes else nan,
    }


def recorded(home: Path) -> dict[str, int]:
    from kilocli.store import Store

    counts: dict[str, int] = {}
    with Store(home / "data" / "kilocli.db") as store:
        for summary in store.list_sessions(100_000):
            for turn in store.session(summary.id).turns:
                counts[turn.status] = counts.get(turn.status, 0) + 1
    return counts


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds of each process so far (kilo serve's running children too)."""
    out = {}
    for name, pid in pids.items():
        process = psutil.Process(pid)
        children = process.children(recursive=True) if name == "kilo serve" else []
        out[name] = 0.0
        for each in (process, *children):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = each.cpu_times()
                out[name] += times.user + times.system
    return out


def start_profiler(pid: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """py-spy on kilo serve, sampling without pausing it (a paused server skews the figures)."""
    mode = {"gil": ["--gil"], "cpu": [], "idle": ["--idle"]}[args.profile_mode]
    exe = Path(sys.executable).with_name("py-spy")
    command = [str(exe) if exe.exists() else "py-spy", "record", "--pid", str(pid)]
    command += [
        "--nonblocking",
        "--rate",
        "250",
        "--format",
        "raw",
        *mode,
        "--output",
        args.profile,
    ]
    spy = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    return spy


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3, help="per client, one after another")
    parser.add_argument("--words", type=int, default=20, help="chunks in each answer")
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between chunks")
    parser.add_argument(
        "--ramp", type=float, default=1.0, help="seconds over which clients join (ramp round)"
    )
    parser.add_argument("--sigterm", action="store_true", help="also SIGTERM during a load")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="py-spy the served burst round into FILE (collapsed stacks; needs py-spy)",
    )
    parser.add_argument(
        "--profile-mode",
        choices=("gil", "cpu", "idle"),
        default="gil",
        help="gil: samples holding the GIL; cpu: on-CPU threads; idle: every thread",
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="kilocli-serve-bench-"))
    env = {"KILOCLI_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-m", "kilocli", "setup"],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    upstream, root = start_upstream()
    try:
        script_upstream(root, args.words, args.chunk_delay)
        env.update(OPENAI_API_KEY="sk-bench-0123456789", OPENAI_BASE_URL=f"{root}/v1")
        server = ServeProcess.start(home, env)
        spread = args.words * args.chunk_delay  # about one answer's length
        procs = {"kilo serve": server.proc.pid, "upstream": upstream.pid, "bench": os.getpid()}
        try:
            # warm both paths (connections, first-call imports), then measure
            asyncio.run(run_load(f"{root}/v1", "gpt-5-mini", 4, 1, 0))
            asyncio.run(run_load(server.url, "kilo-auto", 4, 1, 0))
            before = sum(recorded(home).values())
            rounds = {}
            for name, ramp in (("burst", 0.0), ("ramp", args.ramp)):
                direct = asyncio.run(
                    run_load(f"{root}/v1", "gpt-5-mini", args.clients, args.requests, spread, ramp)
                )
                profiling = args.profile and name == "burst"
                spy = start_profiler(server.proc.pid, args) if profiling else None
                cpu_before = cpu_seconds(procs)
                served = asyncio.run(
                    run_load(server.url, "kilo-auto", args.clients, args.requests, spread, ramp)
                )
                cpu = {k: v - cpu_before[k] for k, v in cpu_seconds(procs).items()}
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(60)
                rounds[name] = (direct, served, cpu)
        finally:
            code = server.stop()
        counts = recorded(home)
        stored = sum(counts.values()) - before
        print(
            f"{args.clients} concurrent streaming clients x {args.requests} requests "
            f"({args.words} chunks, {args.chunk_delay * 1000:.0f} ms apart), loopback, "
            f"{psutil.cpu_count()} cores"
        )
        direct, served, cpu = rounds["burst"]
        print(f"BURST: every client starts within {spread:.1f} s (random); all requests")
        report(direct, served, "")
        report_rate(direct, served, cpu)
        direct, served, cpu = rounds["ramp"]
        print(
            f"RAMP: clients start evenly over {args.ramp:g} s; steady state = each client's "
            f"requests after its first"
        )
        report(direct["steady"], served["steady"], "steady state")
        report(direct["warmup"], served["warmup"], "warm-up (each client's first request)")
        report_rate(direct, served, cpu)
        sent = sum(served["sent"] for _, served, _ in rounds.values())
        done = sum(served["ok"] for _, served, _ in rounds.values())
        print(
            f"requests sent {sent}, completed {done}, recorded {stored} "
            f"(statuses: {counts}, warm-up requests included); server exit {code}"
        )
        if args.sigterm:
            sigterm_round(home, env, root, args)
    finally:
        upstream.terminate()
        upstream.wait(10)
    return 0


def report(direct: dict, served: dict, label: str) -> None:
    """First content token both ways, what kilo serve adds, and its routing time."""
    head = f"  {label}: " if label else "  "
    print(
        f"{head}first content token, upstream directly p50 {direct['p50']:.1f} / p95 "
        f"{direct['p95']:.1f} ms; through kilo serve p50 {served['p50']:.1f} / p95 "
        f"{served['p95']:.1f} ms ({served['n']} requests)"
    )
    print(
        f"    added by kilo serve: p50 {served['p50'] - direct['p50']:.1f} ms, "
        f"p95 {served['p95'] - direct['p95']:.1f} ms; of which routing (arrival to decision, "
        f"queue included): p50 {served['route_p50']:.1f} ms, p95 {served['route_p95']:.1f} ms"
    )


def report_rate(direct: dict, served: dict, cpu: dict[str, float]) -> None:
    """Throughput both ways and the CPU each process spent per request served."""
    per_request = ", ".join(
        f"{name} {seconds / served['sent'] * 1000:.1f} ms" for name, seconds in cpu.items()
    )
    busy = sum(cpu.values()) / served["wall"]
    print(
        f"  throughput through kilo serve: {served['sent'] / served['wall']:.1f} requests/s "
        f"(directly: {direct['sent'] / direct['wall']:.1f})"
    )
    print(
        f"  CPU per request through kilo serve: {per_request} "
        f"(all three: {busy:.2f} of {psutil.cpu_count()} cores busy over the round)"
    )


def sigterm_round(home: Path, env: dict[str, str], root: str, args: argparse.Namespace) -> None:
    """SIGTERM while every client is mid-stream: answered requests vs records."""
    before = sum(recorded(home).values())
    server = ServeProcess.start(home, env)

    async def go() -> dict:
        task = asyncio.create_task(run_load(server.url, "kilo-auto", args.clients, 1, 0.2))
        await asyncio.sleep(0.3 + args.words * args.chunk_delay / 2)
        server.terminate()
        return await task

    result = asyncio.run(go())
    code = server.wait(120)
    stored = sum(recorded(home).values()) - before
    print(
        f"SIGTERM during {args.clients} streams: sent {result['sent']}, answered "
        f"{result['answered']} (the rest were not accepted before the listener closed), "
        f"completed {result['ok']}, recorded {stored}; server exit {code}"
    )


if __name__ == "__main__":
    sys.exit(main())
