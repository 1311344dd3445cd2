"""Entry points: the fastest trustworthy encoder for a route, and ``kilo setup``'s fresh export.

load_encoder(paths) -> OnnxEncoder       trusted cached export (onnxruntime + tokenizers only)
                    -> (export, verify)  no export yet: made once with torch, checked, cached
                    -> ReferenceEncoder  export impossible or failed its check, or no export
                                         and allow_export=False
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kilocli.config import Paths
from kilocli.errors import EncoderUnavailable
from kilocli.routing.encoder.cache import export_dir, failed_before, trusted
from kilocli.routing.encoder.runtime import OnnxEncoder, ReferenceEncoder
from kilocli.routing.encoder.spec import (
    EXPORT_LOCK_WAIT_S,
    GRAPH_FILE,
    PREPARING_NOTE,
    PROBES,
    TOKENIZER_FILE,
    WAITING_NOTE,
    WEIGHTS_FILE,
    Encoder,
)
from kilocli.routing.encoder.weights import Weights, resolve_weights


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
    if trusted(target, paths):
        try:
            return OnnxEncoder(target / GRAPH_FILE, target / TOKENIZER_FILE)
        except EncoderUnavailable as exc:
            note(f"The fast encoder cannot run ({exc}); using the slower reference encoder.")
            return ReferenceEncoder(weights.directory)
    if not allow_export:
        return ReferenceEncoder(weights.directory)
    with _export_lock(target, note):
        if trusted(target, paths):  # the process we waited for (or just missed) made it
            return load_encoder(paths, model_path, allow_export=False, on_note=on_note)
        return _export_for_use(paths, weights, target, note)


def _export_for_use(
    paths: Paths, weights: Weights, target: Path, note: Callable[[str], None]
) -> Encoder:
    """Export, verify and load the fast encoder; the reference one when that is not possible."""
    if failed_before(target):
        note("The fast encoder failed its check earlier; using the slower reference encoder.")
        return ReferenceEncoder(weights.directory)
    note(PREPARING_NOTE)
    from kilocli.routing.encoder.export import export_and_verify  # torch's side: once per cache

    reference = ReferenceEncoder(weights.directory)  # needed either way: exporter and fallback
    try:
        result = export_and_verify(paths, weights, target, lambda _message: None, reference)
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
    return OnnxEncoder(target / GRAPH_FILE, target / TOKENIZER_FILE)


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
    from kilocli.routing.encoder.export import export_and_verify

    target = export_dir(paths, weights)
    with _export_lock(target, progress):
        result = export_and_verify(paths, weights, target, progress)
    progress(
        f"{'Verified' if result.verified else 'Verification FAILED'}: "
        f"min cosine {result.min_cosine:.7f} over {len(PROBES)} probes"
    )
    return SetupReport(
        path=target / GRAPH_FILE,
        weights=weights.directory,
        weights_source=weights.source,
        min_cosine=result.min_cosine,
        verified=result.verified,
        export_seconds=result.export_seconds,
        seconds=time.perf_counter() - began,
    )
