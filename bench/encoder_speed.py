"""Encoder speed and parity: export time, cold start, per-turn latency, batch throughput, cosine.

    python bench/encoder_speed.py            # uses (or makes) an export under a temp KILOCLI_HOME
    python bench/encoder_speed.py --threads 1 --runs 7 --parity

Figures are printed; they depend on what else the machine is doing (2 cores here).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kilocli.config import get_paths, read_toml  # noqa: E402
from kilocli.routing import encoder as enc  # noqa: E402

COLD = """
import time, sys
began = time.perf_counter()
from kilocli.config import get_paths
from kilocli.routing.encoder import load_encoder
e = load_encoder(get_paths(), allow_export=False)
e.encode(["add a docstring to parse()"])
assert e.name == "onnx" and "torch" not in sys.modules
print(time.perf_counter() - began)
"""


def example_prompts() -> list[str]:
    """Every labeled utterance shipped in kilocli/routing/examples (realistic turns)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((REPO / "kilocli/routing/examples").glob("*.toml")):
        walk(read_toml(path))
    return [p for p in found if len(p) > 3]


def pasted_code_turn(tokens: int = 2000) -> str:
    line = "    result = compute_total(items, discount=0.15, tax_rate=rates[region])  # apply\n"
    body = line * (tokens // 22)
    return (
        f"```python\ndef checkout(items, region):\n{body}```\nwhy is the total wrong for EU orders?"
    )


def percentiles(samples: list[float]) -> str:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return f"p50 {statistics.median(s) * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms"


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="KILOCLI_HOME to use (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    parser.add_argument("--runs", type=int, default=5, help="cold-start runs")
    parser.add_argument("--parity", action="store_true", help="also compare with the reference")
    args = parser.parse_args()

    home = args.home or tempfile.mkdtemp(prefix="kilo-bench-")
    os.environ["KILOCLI_HOME"] = home
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    paths = get_paths()

    weights = enc.resolve_weights(paths)
    target = enc.export_dir(paths, weights)
    if not (target / "meta.json").exists():
        report = enc.setup_encoder(paths, progress=lambda _m: None)
        print(
            f"export: {report.export_seconds:.2f} s; whole setup {report.seconds:.1f} s; "
            f"min cosine on probes {report.min_cosine:.7f}"
        )

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    colds = []
    for _ in range(args.runs):
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - began
        if out.returncode:
            sys.exit(out.stderr)
        colds.append((wall, float(out.stdout)))
    print(
        f"cold start -> first embedding: median {statistics.median(w for w, _ in colds):.3f} s "
        f"wall (in-process {statistics.median(i for _, i in colds):.3f} s), {args.runs} runs"
    )

    fast = enc.OnnxEncoder(target / "model.onnx", target / "tokenizer.json", threads=args.threads)
    short = "add a docstring to parse() and mention the error it raises"
    fast.encode([short])
    threads = fast._session.get_session_options().intra_op_num_threads
    print(f"onnxruntime intra-op threads: {threads} (load average {os.getloadavg()[0]:.1f})")
    print(f"short turn: {percentiles(timed(lambda: fast.encode([short]), 200))}")
    pasted = pasted_code_turn()
    n_pieces = len(fast.tokenizer.encode(pasted).ids)
    fit_times = timed(lambda: enc.fit_text(pasted, fast.tokenizer), 50)
    print(f"fit_text on {n_pieces} pieces: {percentiles(fit_times)}")
    print(
        f"turn with {n_pieces} pieces of pasted code: "
        f"{percentiles(timed(lambda: fast.encode([pasted]), 30))}"
    )

    prompts = example_prompts()
    batch = (prompts * (1 + 1000 // len(prompts)))[:1000]
    fast.encode(batch[:64])
    began = time.perf_counter()
    fast.encode(batch)
    rate = len(batch) / (time.perf_counter() - began)
    mean_pieces = np.mean([len(e.ids) for e in fast.tokenizer.encode_batch(batch)])
    print(
        f"batch: {rate:.0f} prompts/s over {len(batch)} example turns "
        f"(mean {mean_pieces:.0f} pieces, batch {enc.BATCH})"
    )

    if args.parity:
        reference = enc.ReferenceEncoder(weights.directory)
        texts = [*prompts[:200], pasted]
        cos = (reference.encode(texts) * fast.encode(texts)).sum(1)
        print(f"parity over {len(texts)} turns: min cosine {cos.min():.7f}")


if __name__ == "__main__":
    main()
