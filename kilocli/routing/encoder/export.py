"""The export cache: ONNX export of MiniLM with torch, and its verification against the
reference (cache.py holds the checks that let a later start trust the files without this).

The export lives in ``<cache>/encoder/<key>/`` (model.onnx + model.onnx.data, tokenizer.json,
meta.json); the key covers the weights' hash and the versions of every library that shaped or runs
it. meta.json lists each file's size and sha256, and says ``verified: true`` only once the ONNX
embeddings matched the reference on probe sentences.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kilocli.config import Paths
from kilocli.errors import EncoderUnavailable
from kilocli.routing.encoder.cache import installed_versions
from kilocli.routing.encoder.runtime import OnnxEncoder, ReferenceEncoder
from kilocli.routing.encoder.spec import (
    DATA_FILE,
    EXPORT_FORMAT,
    GRAPH_FILE,
    MIN_COSINE,
    PROBES,
    TOKENIZER_FILE,
)
from kilocli.routing.encoder.weights import (
    Weights,
    remember_digest,
    sha256_of,
)


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
    onnx.save_model(
        graph, str(directory / GRAPH_FILE), save_as_external_data=True, location=DATA_FILE
    )
    (directory / "inline.onnx").unlink()


def _min_cosine(fast: OnnxEncoder, reference: ReferenceEncoder, probes: Sequence[str]) -> float:
    """Worst cosine over the probes, embedded as one padded batch and one at a time."""
    import numpy as np

    expected = reference.encode(probes)
    batched = fast.encode(probes)
    single = np.vstack([fast.encode([p]) for p in probes])
    return float(min((expected * batched).sum(1).min(), (expected * single).sum(1).min()))


@dataclass
class ExportResult:
    directory: Path
    verified: bool
    min_cosine: float
    export_seconds: float
    reference: ReferenceEncoder


def export_and_verify(
    paths: Paths,
    weights: Weights,
    target: Path,
    progress: Callable[[str], None],
    reference: ReferenceEncoder | None = None,
) -> ExportResult:
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
        shutil.copyfile(weights.directory / "tokenizer.json", work / TOKENIZER_FILE)
        progress(f"Verifying against the reference on {len(PROBES)} probe sentences...")
        fast = OnnxEncoder(work / GRAPH_FILE, work / TOKENIZER_FILE)
        cosine = _min_cosine(fast, reference, PROBES)
        del fast  # release the file before it moves
        verified = cosine >= MIN_COSINE
        meta: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "verified": verified,
            "min_cosine": cosine,
            "probes": len(PROBES),
            "weights_sha256": weights.sha256,
            "versions": installed_versions(),
            "export_seconds": round(export_seconds, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if verified:
            meta["files"] = {
                name: {"size": (work / name).stat().st_size, "sha256": sha256_of(work / name)}
                for name in (GRAPH_FILE, DATA_FILE, TOKENIZER_FILE)
            }
        else:
            for name in (GRAPH_FILE, DATA_FILE):  # never used: do not keep 90 MB of it
                (work / name).unlink()
        (work / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if _replace_dir(work, target) and verified:
            # a rename keeps size and mtime: record the digest under the final path, so the next
            # load only stats the big file
            remember_digest(target / DATA_FILE, meta["files"][DATA_FILE]["sha256"], paths)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ExportResult(target, verified, cosine, export_seconds, reference)


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
