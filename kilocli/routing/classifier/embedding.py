"""A turn as one vector: its ask and its pasted material (kilocli/routing/text.py) embedded apart
and mixed, so that a long paste cannot drown a one-line ask."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from kilocli.routing import text as text_views
from kilocli.routing.classifier.params import FORMAT, PASTE_TOKENS, PASTE_WEIGHT
from kilocli.routing.text import views


class SupportsEncode(Protocol):
    """What the classifier needs from an encoder (kilocli.routing.encoder.Encoder has it)."""

    dim: int

    def encode(self, texts: Sequence[str], max_tokens: int = ...) -> np.ndarray: ...


def embed_texts(encoder: SupportsEncode, texts: Sequence[str]) -> np.ndarray:
    """One L2-normalised vector per text: its words and its paste digest are encoded apart (the
    digest in a smaller window, and never padded to the length of the other)."""
    pairs = [views(t) for t in texts]
    out = np.zeros((len(pairs), int(encoder.dim)), dtype=np.float32)
    prose_idx = [i for i, (prose, _) in enumerate(pairs) if prose]
    paste_idx = [i for i, (_, paste) in enumerate(pairs) if paste]
    prose_vecs = np.zeros_like(out)
    paste_vecs = np.zeros_like(out)
    if prose_idx:
        prose_vecs[prose_idx] = encoder.encode([pairs[i][0] for i in prose_idx])
    if paste_idx:
        paste_vecs[paste_idx] = encoder.encode(
            [pairs[i][1] for i in paste_idx], max_tokens=PASTE_TOKENS
        )
    has_prose = np.zeros(len(pairs), dtype=bool)
    has_prose[prose_idx] = True
    has_paste = np.zeros(len(pairs), dtype=bool)
    has_paste[paste_idx] = True
    both = has_prose & has_paste
    out[both] = (1.0 - PASTE_WEIGHT) * prose_vecs[both] + PASTE_WEIGHT * paste_vecs[both]
    out[has_prose & ~has_paste] = prose_vecs[has_prose & ~has_paste]
    out[has_paste & ~has_prose] = paste_vecs[has_paste & ~has_prose]
    return normalise(out)


def normalise(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def encoder_identity(encoder: SupportsEncode) -> str:
    return f"{getattr(encoder, 'name', type(encoder).__qualname__)}/{encoder.dim}"


def embedding_key(encoder: SupportsEncode) -> str:
    """What a turn's vector (embed_texts) depends on: the encoder, the view rules and the paste
    parameters. Cached vectors of personal examples are keyed by it."""
    h = hashlib.sha256(
        f"{FORMAT}|{PASTE_WEIGHT}|{PASTE_TOKENS}|{encoder_identity(encoder)}".encode()
    )
    h.update(Path(text_views.__file__).read_bytes())
    return h.hexdigest()[:24]
