"""The two encoders: the cached ONNX export run by onnxruntime, and sentence-transformers itself.

Both fit long texts into the window (fitting.py) and return L2-normalised rows. numpy,
onnxruntime, tokenizers and sentence-transformers are imported where used: importing this module
is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilocli.errors import EncoderUnavailable
from kilocli.routing.encoder.fitting import fit_text
from kilocli.routing.encoder.spec import BATCH, DIM, MAX_TOKENS

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer


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
