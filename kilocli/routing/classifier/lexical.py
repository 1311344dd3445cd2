"""The words of the ask, read by a linear model fitted on the examples (the lexical head).

MiniLM's sentence vectors place a request by its subject ("a flask endpoint", "a docker image") more
than by what is asked about it ("write", "why does", "review", "add a docstring"). The words that
carry the task are few, and a linear model over the ask's words and word pairs reads them directly;
its task probabilities are blended with the centroids' (params.LEXICAL_WEIGHT says how much,
and what that was measured to buy).

Fitting uses scikit-learn (TfidfVectorizer, LogisticRegression) once, when the centroids are built;
a turn is scored here with numpy alone, so routing never imports scikit-learn. The features are
scikit-learn's, reproduced: lower-cased ``\\b\\w+\\b`` tokens and adjacent pairs, sublinear term
frequency times the smoothed idf, L2-normalised (tests/test_classifier.py checks the two agree).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from kilocli.routing.text import views

_TOKEN = re.compile(r"\b\w+\b")
MIN_DF = 2  # a word or pair must appear in two examples to count: one-off names are noise
C = 4.0  # inverse L2 strength of the logistic regression (1 and 4 measured alike, 4 a bit better)
NO_ASK_CHARS = 300  # a turn with no words of its own (a bare traceback) is read from its start


def lexical_text(turn: str) -> str:
    """What the lexical head reads of a turn: the ask (the user's own words), else its start."""
    ask, _ = views(turn)
    return ask if ask.strip() else turn[:NO_ASK_CHARS]


def terms(text: str) -> list[str]:
    """The words of a text and its adjacent word pairs, lower-cased (scikit-learn's analyzer)."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


@dataclass(frozen=True)
class Vocabulary:
    """The known terms and their idf: a text becomes its known terms' tf-idf weights."""

    index: dict[str, int]
    idf: np.ndarray  # (terms,)

    def weights(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(term indices, L2-normalised tf-idf weights) of a text's known terms."""
        counts = Counter(t for t in terms(text) if t in self.index)
        idx = np.fromiter((self.index[t] for t in counts), dtype=np.int64, count=len(counts))
        w = np.fromiter(
            ((1.0 + math.log(n)) * self.idf[self.index[t]] for t, n in counts.items()),
            dtype=np.float64,
            count=len(counts),
        )
        norm = np.linalg.norm(w)
        return idx, (w / norm if norm > 0 else w)

    def to_bytes(self) -> np.ndarray:
        """The terms in index order, newline-joined, as a uint8 array (an .npy without pickle)."""
        ordered = sorted(self.index, key=self.index.__getitem__)
        return np.frombuffer("\n".join(ordered).encode(), dtype=np.uint8)

    @classmethod
    def from_bytes(cls, data: np.ndarray, idf: np.ndarray) -> Vocabulary:
        ordered = bytes(data).decode().split("\n") if len(data) else []
        return cls({t: i for i, t in enumerate(ordered)}, idf)


def log_probs(
    vocabulary: Vocabulary, coef: np.ndarray, intercept: np.ndarray, texts: Sequence[str]
) -> np.ndarray:
    """Log class probabilities (texts, classes) of the linear model (no known term: intercepts)."""
    scores = np.tile(intercept.astype(np.float64), (len(texts), 1))
    for i, text in enumerate(texts):
        idx, w = vocabulary.weights(text)
        if len(idx):
            scores[i] += w @ coef[idx]
    scores -= scores.max(axis=1, keepdims=True)
    return scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))


def fit(
    texts: Sequence[str], labels: Sequence[int], n_classes: int
) -> tuple[Vocabulary, np.ndarray, np.ndarray]:
    """A vocabulary from ``texts`` and a multinomial logistic regression of ``labels`` over it:
    (vocabulary, coef (terms, classes), intercept (classes,))."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(
        lowercase=True,
        token_pattern=_TOKEN.pattern,
        ngram_range=(1, 2),
        min_df=MIN_DF,
        sublinear_tf=True,
    )
    matrix = vectorizer.fit_transform(texts)
    model = LogisticRegression(C=C, max_iter=3000).fit(matrix, np.asarray(labels))
    coef = np.zeros((matrix.shape[1], n_classes), dtype=np.float32)
    intercept = np.full(n_classes, -1e3, dtype=np.float32)  # a class without examples never wins
    if len(model.classes_) == 2:  # one row of weights, for the second class against the first
        coef[:, model.classes_[1]] = model.coef_[0]
        intercept[model.classes_] = (0.0, model.intercept_[0])  # the first's weights stay 0
    else:
        coef[:, model.classes_] = model.coef_.T
        intercept[model.classes_] = model.intercept_
    index = {term: int(j) for term, j in vectorizer.vocabulary_.items()}
    return Vocabulary(index, np.asarray(vectorizer.idf_, dtype=np.float64)), coef, intercept
