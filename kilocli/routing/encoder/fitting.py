"""Fitting a text into the encoder's window without losing the request.

A text over the window keeps its prose (the ask) first and then as much of the pasted material
as still fits; what counts as pasted material is kilocli/routing/text.py's (``pasted_spans``).
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from kilocli.routing.encoder.spec import MAX_TOKENS
from kilocli.routing.text import pasted_spans

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Ranges = list[tuple[int, int]]  # [a, b) token index ranges


def _take(ranges: Ranges, n: int, *, from_end: bool = False) -> Ranges:
    """The first (or last) n token indices of ``ranges``, as ranges."""
    out: list[tuple[int, int]] = []
    for a, b in reversed(ranges) if from_end else ranges:
        if n <= 0:
            break
        k = min(n, b - a)
        out.append((b - k, b) if from_end else (a, a + k))
        n -= k
    return out[::-1] if from_end else out


def fit_text(text: str, tokenizer: Tokenizer, max_tokens: int = MAX_TOKENS) -> str:
    """``text`` cut to ``max_tokens`` word pieces (specials included) so the request survives.

    Prose comes first (fenced blocks, logs, traces and diffs are set aside), then as much of the
    pasted material as still fits, each block from its head. Prose longer than the window keeps
    its start and its end, where a question after a long description usually is. Texts that fit
    are returned unchanged. ``tokenizer`` must not truncate (see load_tokenizer).
    """
    if tokenizer.truncation is not None:
        raise ValueError("fit_text needs a tokenizer without truncation")
    budget = max_tokens - tokenizer.num_special_tokens_to_add(False)
    offsets = tokenizer.encode(text, add_special_tokens=False).offsets
    if len(offsets) <= budget:
        return text
    starts = [s for s, _ in offsets]
    prose: Ranges = []
    pasted: Ranges = []
    pos = 0
    for a, b in [*pasted_spans(text), (len(text), len(text))]:
        prose.append((bisect.bisect_left(starts, pos), bisect.bisect_left(starts, a)))
        pasted.append((bisect.bisect_left(starts, a), bisect.bisect_left(starts, b)))
        pos = b
    prose = [(a, b) for a, b in prose if b > a]
    pasted = [(a, b) for a, b in pasted if b > a]
    n_prose = sum(b - a for a, b in prose)
    fitted = text
    # a cut inside a word can re-tokenize into more pieces: shrink the budget until it fits
    for room in (budget, budget - 8, budget - 32):
        if n_prose >= room:
            tail = room // 4
            keep = _take(prose, room - tail) + _take(prose, tail, from_end=True)
        else:
            keep, left = list(prose), room - n_prose
            for a, b in pasted:
                if left <= 0:
                    break
                keep.append((a, min(b, a + left)))
                left -= min(b, a + left) - a
        fitted = "\n".join(text[offsets[a][0] : offsets[b - 1][1]] for a, b in _merge(keep))
        if len(tokenizer.encode(fitted, add_special_tokens=False).ids) <= budget:
            return fitted
    return text[: offsets[budget // 2][1]]  # pathological text: a plain head cut, well inside


def _merge(ranges: Ranges) -> Ranges:
    """Join ranges that touch, so text that was contiguous keeps its own separators."""
    out: list[tuple[int, int]] = []
    for a, b in ranges:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
