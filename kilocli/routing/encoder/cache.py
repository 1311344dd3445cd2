"""Which export a start may trust: its folder (keyed by the weights and the library versions
that shaped or run it) and the check of its files against meta.json. Everything a route needs
of the export cache; making an export is export.py's job (torch, only in ``kilo setup`` or a
first start).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from kilocli.config import Paths
from kilocli.routing.encoder.spec import (
    BIG_FILES,
    DATA_FILE,
    EXPORT_FORMAT,
    GRAPH_FILE,
    KEY_PACKAGES,
    TOKENIZER_FILE,
)
from kilocli.routing.encoder.weights import Weights, file_sha256, read_json, sha256_of


def installed_versions() -> dict[str, str]:
    """Versions from dist-info folder names (importlib.metadata adds ~50 ms to a cold start)."""
    wanted = {_canonical(p): p for p in KEY_PACKAGES}
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
    for package in KEY_PACKAGES:
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
    ident = {"weights": weights.sha256, "format": EXPORT_FORMAT, **installed_versions()}
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return paths.cache_dir / "encoder" / key


def trusted(directory: Path, paths: Paths) -> bool:
    """A verified export whose files are still the ones that were verified."""
    meta = read_json(directory / "meta.json")
    if not meta or meta.get("verified") is not True or meta.get("format") != EXPORT_FORMAT:
        return False
    manifest = meta.get("files")
    if not isinstance(manifest, dict) or set(manifest) != {GRAPH_FILE, DATA_FILE, TOKENIZER_FILE}:
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
        digest = file_sha256(path, paths) if name in BIG_FILES else sha256_of(path)
        if digest != expected.get("sha256"):
            return False
    return True


def failed_before(directory: Path) -> bool:
    meta = read_json(directory / "meta.json")
    return bool(meta) and meta.get("verified") is False and meta.get("format") == EXPORT_FORMAT
