"""The routing packages are cheap to import where the heavy libraries are not needed (a fresh
process says what it loaded; the cycle check is tests/unit/routing/test_imports.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HEAVY = ("numpy", "onnxruntime", "tokenizers", "torch", "sentence_transformers")


def _imported_after(code: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    return set(proc.stdout.split())


def test_the_encoder_pools_and_router_import_no_heavy_library():
    loaded = _imported_after(
        "import kilocli.routing.encoder, kilocli.routing.pools, kilocli.routing.router, "
        "kilocli.routing.text"
    )
    assert "kilocli.routing.encoder.runtime" in loaded  # the probe did import the package
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
