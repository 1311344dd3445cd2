"""The fitted model: per axis, whitened examples and centroids, and the scores a turn gets.

Scores of a bucket: the cosine with its centroid in a space whitened by the shrunk within-bucket
covariance, blended with the mean similarity of its nearest examples, plus (when the user has
some) a local term for personal examples. ``Model`` is everything fitted from the examples, saved
as one .npy file per field.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from kilocli.routing.classifier import lexical
from kilocli.routing.classifier.embedding import normalise
from kilocli.routing.classifier.examples import Example
from kilocli.routing.classifier.params import (
    KNN_K,
    KNN_WEIGHT,
    PERSONAL_CENTROID_WEIGHT,
    PERSONAL_K,
    PERSONAL_MIN_SIM,
    PERSONAL_WEIGHT,
    SHORT_TURN_CHARS,
    SHRINKAGE,
)
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS


@dataclass(frozen=True)
class Axis:
    """One classification axis: examples and centroids in a whitened space."""

    whitener: np.ndarray  # (dim, dim)
    centroids: np.ndarray  # (buckets, dim), unit rows, whitened space
    examples: np.ndarray  # (n, dim), unit rows, whitened space, sorted by bucket
    bounds: np.ndarray  # (buckets + 1,) int: examples of bucket b are rows bounds[b]:bounds[b+1]
    # personal examples (none by default): unit raw vectors, their buckets and recency weights
    personal: np.ndarray | None = None  # (p, dim)
    personal_buckets: np.ndarray | None = None  # (p,) int
    personal_weights: np.ndarray | None = None  # (p,)

    @classmethod
    def fit(cls, vectors: np.ndarray, labels: Sequence[int], n_buckets: int) -> Axis:
        y = np.asarray(labels)
        order = np.argsort(y, kind="stable")
        x, y = vectors[order].astype(np.float64), y[order]
        means = np.stack([x[y == b].mean(axis=0) for b in range(n_buckets)])
        resid = x - means[y]
        cov = resid.T @ resid / len(x)
        dim = cov.shape[0]
        cov = (1.0 - SHRINKAGE) * cov + SHRINKAGE * (np.trace(cov) / dim) * np.eye(dim)
        eigval, eigvec = np.linalg.eigh(cov)
        whitener = (eigvec * eigval**-0.5) @ eigvec.T  # cov ** -1/2
        z = normalise(x @ whitener)
        centroids = normalise(np.stack([z[y == b].mean(axis=0) for b in range(n_buckets)]))
        bounds = np.searchsorted(y, np.arange(n_buckets + 1))
        return cls(*(a.astype(np.float32) for a in (whitener, centroids, z)), bounds)

    def with_personal(
        self, vectors: np.ndarray, buckets: Sequence[int], weights: Sequence[float]
    ) -> Axis:
        """This axis with personal examples (unit raw vectors, bucket indices, recency weights):
        in the centroids as PERSONAL_CENTROID_WEIGHT examples each, and as a local term."""
        if len(vectors) == 0:
            return Axis(self.whitener, self.centroids, self.examples, self.bounds)
        raw = np.asarray(vectors, dtype=np.float32)
        b = np.asarray(buckets, dtype=np.int64)
        w = np.asarray(weights, dtype=np.float32)
        centroids = self.centroids
        if PERSONAL_CENTROID_WEIGHT > 0:  # whitening a thousand examples costs ~10 ms: only if used
            z = normalise(raw @ self.whitener)
            sums = np.add.reduceat(self.examples, self.bounds[:-1], axis=0).astype(np.float64)
            np.add.at(sums, b, PERSONAL_CENTROID_WEIGHT * w[:, None] * z)
            centroids = normalise(sums).astype(np.float32)
        return Axis(self.whitener, centroids, self.examples, self.bounds, raw, b, w)

    def personal_similarity(self, vectors: np.ndarray) -> np.ndarray:
        """(m, dim) raw turn vectors -> (m, p) plain cosine with each personal example."""
        if self.personal is None:
            return np.zeros((len(vectors), 0), dtype=np.float32)
        return normalise(vectors) @ self.personal.T

    def personal_scores(self, vectors: np.ndarray) -> np.ndarray:
        """(m, dim) raw turn vectors -> (m, buckets) the personal examples' local term."""
        n_buckets = len(self.bounds) - 1
        out = np.zeros((len(vectors), n_buckets), dtype=np.float32)
        if self.personal is None:
            return out
        cos = self.personal_similarity(vectors)
        kernel = np.clip((cos - PERSONAL_MIN_SIM) / (1.0 - PERSONAL_MIN_SIM), 0.0, 1.0)
        kernel *= self.personal_weights
        for bucket in range(n_buckets):
            part = kernel[:, self.personal_buckets == bucket]
            if part.shape[1] == 0:
                continue
            k = min(PERSONAL_K, part.shape[1])
            out[:, bucket] = np.partition(part, part.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
        return PERSONAL_WEIGHT * out

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """(m, dim) raw turn vectors -> (m, buckets) blended similarity scores."""
        z = normalise(vectors @ self.whitener)
        central = z @ self.centroids.T
        sims = z @ self.examples.T
        near = np.empty_like(central)
        for b in range(len(self.bounds) - 1):
            part = sims[:, self.bounds[b] : self.bounds[b + 1]]
            k = min(KNN_K, part.shape[1])
            near[:, b] = np.partition(part, part.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
        blended = (1.0 - KNN_WEIGHT) * central + KNN_WEIGHT * near
        if self.personal is not None:
            blended = blended + self.personal_scores(vectors)
        return blended


@dataclass(frozen=True)
class Model:
    """Everything fitted from the examples; each field is one cached .npy file."""

    task_whitener: np.ndarray
    task_centroids: np.ndarray
    task_examples: np.ndarray
    task_bounds: np.ndarray
    diff_whitener: np.ndarray
    diff_centroids: np.ndarray
    diff_examples: np.ndarray
    diff_bounds: np.ndarray
    raw_task_centroids: np.ndarray  # unwhitened: informativeness is measured in the plain space
    followup_centroid: np.ndarray
    # the lexical head (lexical.py): its vocabulary (newline-joined terms), their idf, and the task
    # logistic regression's coefficients and intercepts
    lex_terms: np.ndarray
    lex_idf: np.ndarray
    lex_task_coef: np.ndarray
    lex_task_intercept: np.ndarray

    @classmethod
    def fit(cls, examples: Sequence[Example], vectors: np.ndarray) -> Model:
        labeled = [i for i, e in enumerate(examples) if e.task is not None]
        x = vectors[labeled]
        tasks = [TASKS.index(str(examples[i].task)) for i in labeled]
        diffs = [DIFFICULTIES.index(str(examples[i].difficulty)) for i in labeled]
        t = Axis.fit(x, tasks, len(TASKS))
        d = Axis.fit(x, diffs, len(DIFFICULTIES))
        # informativeness judges short turns against short requests: long pasted examples would
        # pull the plain-space centroids away from how a one-line request reads
        short = np.array([len(examples[i].text) <= SHORT_TURN_CHARS for i in labeled])
        y = np.asarray(tasks)
        raw = normalise(np.stack([x[(y == b) & short].mean(axis=0) for b in range(len(TASKS))]))
        follow = vectors[[i for i, e in enumerate(examples) if e.task is None]].mean(axis=0)
        vocabulary, task_coef, task_intercept = lexical.fit(
            [lexical.lexical_text(examples[i].text) for i in labeled], tasks, len(TASKS)
        )
        return cls(
            *(t.whitener, t.centroids, t.examples, t.bounds),
            *(d.whitener, d.centroids, d.examples, d.bounds),
            raw.astype(np.float32),
            normalise(follow).astype(np.float32),
            vocabulary.to_bytes(),
            vocabulary.idf,
            task_coef,
            task_intercept,
        )

    def save(self, directory: Path) -> None:
        """Write all arrays to a temp folder, then rename it into place (readers never see half)."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # only when the centroids are (re)built

        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            for f in fields(self):
                np.save(tmp / f"{f.name}.npy", getattr(self, f.name), allow_pickle=False)
            os.replace(tmp, directory)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not directory.is_dir():  # another process may have won the race: fine
                raise

    @classmethod
    def read(cls, directory: Path) -> Model | None:
        try:
            arrays = {
                f.name: np.load(directory / f"{f.name}.npy", allow_pickle=False)
                for f in fields(cls)
            }
        except (OSError, ValueError):
            return None  # missing or damaged: rebuilt by the caller
        return cls(**arrays)
