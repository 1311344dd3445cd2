"""MiniLM sentence encoder: a fast ONNX path and the sentence-transformers reference.

    spec.py      what the encoder is: model, window, export files, verification probes
    weights.py   where the weights come from, and their sha256 check (cached by stat)
    fitting.py   a long text cut to the window so the request survives (fit_text)
    runtime.py   the two encoders: OnnxEncoder (onnxruntime) and ReferenceEncoder (torch)
    cache.py     which cached export a start may trust (its folder, its files' check)
    export.py    the export: made once with torch and verified against the reference
    load.py      entry points: load_encoder (every route) and setup_encoder (``kilo setup``)

Importing the package is cheap: numpy, onnxruntime, tokenizers and torch are imported where used.
"""

from kilocli.routing.encoder.cache import export_dir
from kilocli.routing.encoder.fitting import fit_text
from kilocli.routing.encoder.load import SetupReport, load_encoder, setup_encoder
from kilocli.routing.encoder.runtime import OnnxEncoder, ReferenceEncoder, load_tokenizer
from kilocli.routing.encoder.spec import (
    BATCH,
    DIM,
    EXPORT_FORMAT,
    HUB_ID,
    MAX_TOKENS,
    MIN_COSINE,
    PREPARING_NOTE,
    PROBES,
    WAITING_NOTE,
    WEIGHTS_FILE,
    WEIGHTS_SHA256,
    Encoder,
)
from kilocli.routing.encoder.weights import Weights, file_sha256, resolve_weights

__all__ = [
    "BATCH",
    "DIM",
    "EXPORT_FORMAT",
    "HUB_ID",
    "MAX_TOKENS",
    "MIN_COSINE",
    "PREPARING_NOTE",
    "PROBES",
    "WAITING_NOTE",
    "WEIGHTS_FILE",
    "WEIGHTS_SHA256",
    "Encoder",
    "OnnxEncoder",
    "ReferenceEncoder",
    "SetupReport",
    "Weights",
    "export_dir",
    "file_sha256",
    "fit_text",
    "load_encoder",
    "load_tokenizer",
    "resolve_weights",
    "setup_encoder",
]
