"""Nearest-centroid classifier over MiniLM embeddings, with session context.

Training data: the labeled utterances in ``examples/*.toml`` (format in ``examples/README.md``).

Scoring, per axis (task, difficulty):
1. A turn is embedded as its own words (the ask) and what it pasted (code, traces, file dumps),
   apart, then mixed (``PASTE_WEIGHT``); ``kilocli/routing/text.py`` draws the line between them.
2. The vector is whitened with the shrunk within-bucket covariance of the examples (``SHRINKAGE``):
   plain cosine is dominated by topic and stack ("docker", "react"), which vary inside every bucket.
3. The score of a bucket is its centroid's cosine similarity, blended (``KNN_WEIGHT``) with the mean
   similarity of the bucket's ``KNN_K`` nearest examples, which keeps multi-modal buckets (ops: git,
   docker and CI) from being judged by one blurred mean.
4. Probabilities: a softmax over the scores with a calibrated temperature; for the task, times the
   base rates of real requests (``TASK_PRIOR ** PRIOR_WEIGHT``); margin = top1 - top2.

Difficulty ties go harder: the chosen difficulty is the hardest whose probability is within
``HARDER_WITHIN`` of the most probable one, one level up at most, because under-routing a hard
request costs more than paying a little more for an easy one. A turn over ``LONG_TURN_CHARS``
characters is never easy.

Session context: earlier user turns form a context vector (a turn k turns back weighs
``CONTEXT_DECAY ** (k - 1)`` times its informativeness). The current turn is blended with it, with a
weight that grows as the current turn gets less informative: "yes do it" is decided by the session,
"now write a dockerfile for it" by itself. A turn that leans on the session (context share of at
least ``INHERIT_WEIGHT``) is never easier than the session's difficulty judged alone.

Personal examples (the user's corrections, kilocli/routing/personal.py) can join the built-in
ones: ``Classifier.personalised`` returns a classifier whose scores carry a local term for them
(see PERSONAL_WEIGHT); the vectors are handed in, so this module reads no store.

Everything derived from the examples is cached as ``.npy`` files keyed by the examples' bytes, these
parameters, the view rules and the encoder's identity, so a warm start reads a few files and embeds
nothing.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import shutil
import tempfile
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Protocol

import numpy as np

from kilocli.errors import ConfigError
from kilocli.routing import text as text_views
from kilocli.routing.personal import PersonalExample
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS
from kilocli.routing.text import views

# Parameters, calibrated on 5-fold out-of-fold scores of the examples (folds by text hash).
PASTE_WEIGHT = 0.35  # share of the pasted material in a turn's vector: prose leads, code helps
# Word pieces of the paste digest that are embedded: its head says what the material is, and a
# 96-piece window costs well under half a 256-piece one (2k tokens of pasted code: < 30 ms).
PASTE_TOKENS = 96
SHRINKAGE = 0.3  # within-bucket covariance shrunk toward the identity (1.0 would be plain cosine)
KNN_K = 5  # nearest examples averaged per bucket
KNN_WEIGHT = 0.3  # share of the nearest-examples score; the rest is the centroid's
TASK_TEMPERATURE = 0.025  # softmax temperatures over the (cosine) scores: minimise out-of-fold NLL
DIFFICULTY_TEMPERATURE = 0.03
# A difficulty this close (in probability) to the top one wins if it is harder (one level up at
# most). Difficulty accuracy / under-routing at 0.2, 0.25, 0.3: real prompts (lenient, development
# half) 63.1% / 10.8%, 62.6% / 9.4%, 60.1% / 8.4%; dev/handwritten_watched.jsonl 71.6% / 5.4%,
# 72.0% / 4.3%, 70.4% / 3.6%; handwritten_blind 76.7% / 8.9%, 77.2% / 8.1%, 76.7% / 7.0%.
# 0.25 is as accurate as 0.2 and under-routes less everywhere.
HARDER_WITHIN = 0.25
# A turn longer than this (characters: ~40 lines of pasted code, or a long description) carries
# "moderate context" (docs/taxonomy.md) and is never easy. On the dev set it cut under-routing from
# 8.6% to 7.2% of one-turn items at no cost in accuracy; the examples have no turn this long.
LONG_TURN_CHARS = 1000
CONTEXT_DECAY = 0.5  # weight of each earlier turn relative to the next one
MAX_CONTEXT_WEIGHT = 0.85  # context share for a contentless turn ("ok", "do it")
# From this context share up, a turn is a follow-up and never easier than its session's own
# difficulty ("still failing" after a race): out of fold, follow-ups appended to held-out examples
# under-route 6.6% with this floor against 7.6% without it.
INHERIT_WEIGHT = 0.5
# Informativeness of a turn: how much closer it is to its nearest task centroid than to the
# centroid of the follow-up turns ("ok go ahead", "still failing"), mapped linearly from
# [INFO_LOW, INFO_HIGH] (a cosine difference) onto [0, 1].
INFO_LOW = -0.05
SHORT_TURN_CHARS = 300  # examples up to this long stand for a typed request (informativeness)
INFO_HIGH = 0.25

# How often real developers ask for each task, in TASKS order: the label shares of the development
# half of the real first-prompt file (203 prompts, +2 smoothing). The examples come in roughly equal
# numbers per bucket, so the centroid scores act as likelihoods under a flat prior; multiplying by
# TASK_PRIOR ** PRIOR_WEIGHT moves close calls toward what people ask most (new code). The weight
# was calibrated on the same file (real prompts: task 0.59 -> 0.63 at 0.5, 0.66 at 0.75) against the
# hand-written sets, which have flat priors and lose 0.3-2.9 points at 0.5 (and 4.4 at 0.75).
TASK_PRIOR = (0.050, 0.054, 0.127, 0.371, 0.036, 0.081, 0.063, 0.100, 0.118)
PRIOR_WEIGHT = 0.5

# Personal examples (kilocli/routing/personal.py) add a local term to a bucket's score: the mean,
# over the bucket's PERSONAL_K personal examples most like the turn, of a kernel on their plain
# (unwhitened) cosine, clip((cos - PERSONAL_MIN_SIM) / (1 - PERSONAL_MIN_SIM), 0, 1) times the
# example's recency weight, scaled by PERSONAL_WEIGHT. Plain cosine, because a user's convention
# ("migrate" for a one-line change) is in the words, which whitening discounts (whitened, ten
# "migrate ..." corrections were less similar to a new "migrate ..." request than the built-in
# neighbours); a floor, because a correction should decide requests like it and leave the rest
# alone (the hand-written dev prompts reach a plain cosine of 0.43 with unrelated corrections at the
# 99th percentile, new "migrate ..." requests 0.49-0.62 with the taught ones). In a centroid a
# personal example counts as PERSONAL_CENTROID_WEIGHT built-in ones. bench/personal_examples.py
# (ten taught, six new similar requests; 100 unrelated corrections over the dev sets), as
# weight / floor / centroid weight -> requests routed as taught (task as taught), worst loss:
#   0.5 / 0.40 / 1.0 -> 4 (6), task -1.3, difficulty -1.2 points: centroids drift
#   0.5 / 0.40 / 0.0 -> 4 (6), task -1.1, difficulty -0.6
#   0.6 / 0.45 / 0.0 -> 4 (5), task -0.9, difficulty -0.2   (chosen)
#   0.5 / 0.50 / 0.0 -> 1 (4), task -0.4, difficulty -0.2
# A bucket holds hundreds of built-in examples, so moving a centroid far enough to matter moves it
# for every request: personal examples do their work in the local term and leave centroids alone.
PERSONAL_MIN_SIM = 0.45
PERSONAL_K = 3
PERSONAL_WEIGHT = 0.6
PERSONAL_CENTROID_WEIGHT = 0.0

TURN_MEMO = 512  # vectors of recent turns kept: a session's history is not re-embedded every turn

_PRIOR = np.asarray(TASK_PRIOR) ** PRIOR_WEIGHT

FOLLOWUP_TABLE = "followup"
FORMAT = "kilocli-centroids-6"  # bump when the cached arrays change meaning


class SupportsEncode(Protocol):
    """What the classifier needs from an encoder (kilocli.routing.encoder.Encoder has it)."""

    dim: int

    def encode(self, texts: Sequence[str], max_tokens: int = ...) -> np.ndarray: ...


@dataclass(frozen=True)
class Classification:
    task: str
    difficulty: str
    task_probs: dict[str, float]  # over taxonomy.TASKS, sums to 1
    difficulty_probs: dict[str, float]  # over taxonomy.DIFFICULTIES, sums to 1
    task_margin: float  # top1 - top2 probability
    difficulty_margin: float
    context_weight: float = 0.0  # how much earlier turns contributed (0 = the turn alone decided)


# ---------------------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    text: str
    task: str | None  # None for a follow-up turn, which carries no request of its own
    difficulty: str | None
    source: str  # where it stands: "file.toml example #n" or "file.toml [table] key #n"
    origin: str = "handwritten"  # the public request it was modeled on (an address), if any
    shape: str | None = None  # how it is written: see SHAPES


# How a turn is written (examples/README.md): the formats real requests come in.
SHAPES: tuple[str, ...] = (
    "plain",
    "terse",
    "non-native",
    "multi-question",
    "pasted-first",
    "preamble",
    "file-dump",
    "traceback",
)
EXAMPLE_TABLE = "example"
_EXAMPLE_KEYS = ("task", "difficulty", "source", "text", "shape")


def default_examples_dir() -> Traversable:
    return resources.files("kilocli.routing").joinpath("examples")


def _example_files(root: Traversable | Path) -> list[Traversable | Path]:
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise ConfigError(f"{root}: cannot read the examples folder: {exc}") from None
    return sorted((f for f in entries if f.name.endswith(".toml") and f.is_file()), key=_name)


def _name(f: Traversable | Path) -> str:
    return f.name


def _parse_sourced(name: str, items: object) -> list[Example]:
    """``[[example]]`` entries: one labeled turn each, with the address it was modeled on."""
    if not isinstance(items, list):
        raise ConfigError(f"{name}: [[{EXAMPLE_TABLE}]] must be an array of tables")
    out: list[Example] = []
    for i, item in enumerate(items, 1):
        where = f"{name}: {EXAMPLE_TABLE} #{i}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a table")
        unknown = sorted(set(item) - set(_EXAMPLE_KEYS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_EXAMPLE_KEYS)})"
            )
        for key in ("task", "difficulty", "source", "text"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ConfigError(f"{where}: {key!r} must be a non-empty string")
        task, difficulty, shape = item["task"], item["difficulty"], item.get("shape")
        if task not in TASKS:
            raise ConfigError(
                f"{where}: unknown task {task!r} (expected one of {', '.join(TASKS)})"
            )
        if difficulty not in DIFFICULTIES:
            expected = ", ".join(DIFFICULTIES)
            raise ConfigError(
                f"{where}: unknown difficulty {difficulty!r} (expected one of {expected})"
            )
        if shape is not None and shape not in SHAPES:
            raise ConfigError(
                f"{where}: unknown shape {shape!r} (expected one of {', '.join(SHAPES)})"
            )
        text = item["text"].strip()
        out.append(
            Example(text, task, difficulty, f"{name} {EXAMPLE_TABLE} #{i}", item["source"], shape)
        )
    return out


def _parse(name: str, data: dict[str, object]) -> list[Example]:
    out: list[Example] = []
    origin = data.get("source", "handwritten")
    if not isinstance(origin, str) or not origin.strip():
        raise ConfigError(f"{name}: 'source' must be a non-empty string")
    for table, body in data.items():
        where = f"{name}: [{table}]"
        if table == "source":
            continue
        if table == EXAMPLE_TABLE:
            out.extend(_parse_sourced(name, body))
            continue
        if table == FOLLOWUP_TABLE:
            allowed: tuple[str, ...] = ("turns",)
        elif table in TASKS:
            allowed = DIFFICULTIES
        else:
            raise ConfigError(f"{where}: unknown task bucket (expected one of {', '.join(TASKS)})")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: expected a table of string lists")
        for key, items in body.items():
            if key not in allowed:
                raise ConfigError(f"{where}: unknown key {key!r} (expected {', '.join(allowed)})")
            if not isinstance(items, list):
                raise ConfigError(f"{where} {key}: expected a list of strings")
            for i, text in enumerate(items, 1):
                if not isinstance(text, str) or not text.strip():
                    raise ConfigError(f"{where} {key} #{i}: expected a non-empty string")
                task, diff = (None, None) if table == FOLLOWUP_TABLE else (table, key)
                out.append(
                    Example(text.strip(), task, diff, f"{name} [{table}] {key} #{i}", origin)
                )
    return out


def load_examples(examples_dir: Traversable | Path | None = None) -> list[Example]:
    """The labeled utterances of ``examples_dir`` (default: those shipped in the package)."""
    root = default_examples_dir() if examples_dir is None else examples_dir
    examples: list[Example] = []
    for f in _example_files(root):
        try:
            data = tomllib.loads(f.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{f}: invalid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{f}: cannot read: {exc}") from None
        examples.extend(_parse(f.name, data))
    for axis, values in (("task", TASKS), ("difficulty", DIFFICULTIES)):
        for value in values:
            if not any(getattr(e, axis) == value for e in examples):
                raise ConfigError(f"{root}: no examples for {axis} bucket {value!r}")
    if not any(e.task is None for e in examples):
        raise ConfigError(f"{root}: no [{FOLLOWUP_TABLE}] turns")
    return examples


def examples_digest(examples_dir: Traversable | Path | None = None) -> str:
    """Hash of the example files (names and bytes), of the parameters the cache depends on and of
    the rules that cut a turn into views (kilocli/routing/text.py: a changed rule re-embeds)."""
    root = default_examples_dir() if examples_dir is None else examples_dir
    params = f"{FORMAT}|{PASTE_WEIGHT}|{PASTE_TOKENS}|{SHRINKAGE}|{SHORT_TURN_CHARS}"
    h = hashlib.sha256(params.encode())
    h.update(Path(text_views.__file__).read_bytes())
    for f in _example_files(root):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


# --------------------------------------------------------------------------- embedding a turn


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
    return _normalise(out)


# ---------------------------------------------------------------------------------------- model


def _normalise(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


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
        z = _normalise(x @ whitener)
        centroids = _normalise(np.stack([z[y == b].mean(axis=0) for b in range(n_buckets)]))
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
            z = _normalise(raw @ self.whitener)
            sums = np.add.reduceat(self.examples, self.bounds[:-1], axis=0).astype(np.float64)
            np.add.at(sums, b, PERSONAL_CENTROID_WEIGHT * w[:, None] * z)
            centroids = _normalise(sums).astype(np.float32)
        return Axis(self.whitener, centroids, self.examples, self.bounds, raw, b, w)

    def personal_similarity(self, vectors: np.ndarray) -> np.ndarray:
        """(m, dim) raw turn vectors -> (m, p) plain cosine with each personal example."""
        if self.personal is None:
            return np.zeros((len(vectors), 0), dtype=np.float32)
        return _normalise(vectors) @ self.personal.T

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
        z = _normalise(vectors @ self.whitener)
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
        raw = _normalise(np.stack([x[(y == b) & short].mean(axis=0) for b in range(len(TASKS))]))
        follow = vectors[[i for i, e in enumerate(examples) if e.task is None]].mean(axis=0)
        return cls(
            *(t.whitener, t.centroids, t.examples, t.bounds),
            *(d.whitener, d.centroids, d.examples, d.bounds),
            raw.astype(np.float32),
            _normalise(follow).astype(np.float32),
        )

    def save(self, directory: Path) -> None:
        """Write all arrays to a temp folder, then rename it into place (readers never see half)."""
        directory.parent.mkdir(parents=True, exist_ok=True)
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


# ----------------------------------------------------------------------------------- classifier


def _margin(probs: np.ndarray) -> float:
    top = np.sort(probs)
    return float(top[-1] - top[-2])


def harder_on_ties(difficulty_probs: np.ndarray) -> int:
    """Index of the hardest difficulty whose probability is within HARDER_WITHIN of the top one,
    at most one level above the top one: a tie between easy and hard ("hi": easy 0.51, hard 0.32)
    is a sign of an uninformative turn, and lands on medium, not hard."""
    probs = np.asarray(difficulty_probs)
    top = int(np.argmax(probs))
    return min(int(np.nonzero(probs >= probs.max() - HARDER_WITHIN)[0].max()), top + 1)


def _encoder_identity(encoder: SupportsEncode) -> str:
    return f"{getattr(encoder, 'name', type(encoder).__qualname__)}/{encoder.dim}"


def embedding_key(encoder: SupportsEncode) -> str:
    """What a turn's vector (embed_texts) depends on: the encoder, the view rules and the paste
    parameters. Cached vectors of personal examples are keyed by it."""
    h = hashlib.sha256(
        f"{FORMAT}|{PASTE_WEIGHT}|{PASTE_TOKENS}|{_encoder_identity(encoder)}".encode()
    )
    h.update(Path(text_views.__file__).read_bytes())
    return h.hexdigest()[:24]


class Classifier:
    """Task and difficulty of a user turn, given the session's earlier user turns."""

    def __init__(self, encoder: SupportsEncode, model: Model) -> None:
        self.encoder = encoder
        self.model = model
        m = model
        self._task = Axis(m.task_whitener, m.task_centroids, m.task_examples, m.task_bounds)
        self._diff = Axis(m.diff_whitener, m.diff_centroids, m.diff_examples, m.diff_bounds)
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_lock = threading.Lock()
        self.personal: tuple[PersonalExample, ...] = ()

    def personalised(self, examples: Sequence[PersonalExample], vectors: np.ndarray) -> Classifier:
        """A classifier with the user's personal examples joining the built-in ones (``vectors``:
        one embed_texts() row per example). It shares this one's encoder, fitted arrays and turn
        memo, so comparing the two decisions embeds nothing twice."""
        clone = copy.copy(self)
        clone.personal = tuple(examples)
        weights = [e.weight for e in examples]
        tasks = [TASKS.index(e.task) for e in examples]
        diffs = [DIFFICULTIES.index(e.difficulty) for e in examples]
        clone._task = self._task.with_personal(vectors, tasks, weights)
        clone._diff = self._diff.with_personal(vectors, diffs, weights)
        return clone

    def nearest_personal(self, turn: str, k: int = 3) -> list[tuple[PersonalExample, float]]:
        """The personal examples most like ``turn`` (task space), most similar first."""
        if not self.personal:
            return []
        sims = self._task.personal_similarity(self.embed([turn]))[0]
        order = np.argsort(-sims)[:k]
        return [(self.personal[i], float(sims[i])) for i in order]

    @classmethod
    def load(
        cls,
        encoder: SupportsEncode,
        cache_dir: Path | None,
        examples_dir: Traversable | Path | None = None,
    ) -> Classifier:
        """Fitted arrays from ``cache_dir/centroids/<key>/`` if present, else embedded and fitted.

        The key covers the example files, the fitting parameters and the encoder's identity, so an
        edited example or another encoder never reuses stale centroids.
        """
        key = hashlib.sha256(
            f"{examples_digest(examples_dir)}|{_encoder_identity(encoder)}".encode()
        ).hexdigest()[:24]
        directory = None if cache_dir is None else cache_dir / "centroids" / key
        if directory is not None and directory.is_dir():
            model = Model.read(directory)
            if model is not None:
                return cls(encoder, model)
            shutil.rmtree(directory, ignore_errors=True)
        examples = load_examples(examples_dir)
        model = Model.fit(examples, embed_texts(encoder, [e.text for e in examples]))
        if directory is not None:
            with contextlib.suppress(OSError):  # a read-only cache only costs a refit next time
                model.save(directory)
        return cls(encoder, model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per turn, as classify_vectors() expects them (recent turns: from a memo)."""
        with self._memo_lock:
            known = {t: self._memo[t] for t in texts if t in self._memo}
            for t in known:
                self._memo.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = embed_texts(self.encoder, missing)
            known.update(zip(missing, fresh, strict=True))
            with self._memo_lock:
                self._memo.update(zip(missing, fresh, strict=True))
                while len(self._memo) > TURN_MEMO:
                    self._memo.popitem(last=False)
        dim = int(self.encoder.dim)
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)

    def classify(self, turns: Sequence[str]) -> Classification:
        """``turns``: the session's user turns, oldest first; the last is the one to route."""
        if not turns:
            raise ValueError("classify() needs at least one turn")
        vectors = self.embed(turns)
        return self.classify_vectors(vectors[-1], list(vectors[:-1]), chars=len(turns[-1]))

    def classify_many(self, prompts: Sequence[str]) -> list[Classification]:
        """Independent one-turn prompts, encoded in one batch."""
        chars = np.array([len(p) for p in prompts])
        return self._decide(self.embed(prompts), np.zeros(len(prompts)), chars)

    def classify_vectors(
        self, current: np.ndarray, history: Sequence[np.ndarray] = (), *, chars: int = 0
    ) -> Classification:
        """Like classify(), from vectors made by embed() (history oldest first).

        ``chars``: the current turn's length in characters (0 if unknown; see LONG_TURN_CHARS).
        """
        current = np.asarray(current, dtype=np.float32)
        context = self._context(history)
        length = np.array([chars])
        if context is None:
            return self._decide(current[None, :], np.zeros(1), length)[0]
        weight = MAX_CONTEXT_WEIGHT * (1.0 - self.informativeness(current))
        blended = _normalise((1.0 - weight) * current + weight * context)
        floor = 0
        # A follow-up ("still failing", "ok now the edge cases") is at least as hard as what the
        # session asked: it leans on the session, carries on the session's task, or reports a
        # bug in the session's work. A turn that starts another task ("now write the commit
        # message") decides for itself.
        if weight >= INHERIT_WEIGHT or self._continues(current, context):
            floor = harder_on_ties(self._difficulty_probs(context[None, :])[0])
        return self._decide(blended[None, :], np.array([weight]), length, np.array([floor]))[0]

    def _continues(self, current: np.ndarray, context: np.ndarray) -> bool:
        scores = self._task.scores(np.stack([current, context]))
        own = int(np.argmax(scores[0]))
        return own in (int(np.argmax(scores[1])), TASKS.index("debug"))

    def informativeness(self, vector: np.ndarray) -> float:
        """0 for a contentless follow-up ("ok go ahead"), 1 for a turn stating its own request."""
        m = self.model
        gap = float(np.max(m.raw_task_centroids @ vector) - m.followup_centroid @ vector)
        return float(np.clip((gap - INFO_LOW) / (INFO_HIGH - INFO_LOW), 0.0, 1.0))

    def _context(self, history: Sequence[np.ndarray]) -> np.ndarray | None:
        """Decayed sum of earlier turns, most recent first, each scaled by its informativeness."""
        if len(history) == 0:
            return None
        total = np.zeros_like(np.asarray(history[0], dtype=np.float32))
        weight = 1.0
        for vector in reversed(history):
            v = np.asarray(vector, dtype=np.float32)
            total += weight * max(self.informativeness(v), 0.05) * v
            weight *= CONTEXT_DECAY
        return _normalise(total)

    def _difficulty_probs(self, vectors: np.ndarray) -> np.ndarray:
        return _softmax(self._diff.scores(vectors), DIFFICULTY_TEMPERATURE)

    def _decide(
        self,
        vectors: np.ndarray,
        context_weights: np.ndarray,
        chars: np.ndarray,
        floors: np.ndarray | None = None,
    ) -> list[Classification]:
        """``floors``: per turn, the easiest difficulty index it may get (default 0)."""
        task_p = _softmax(self._task.scores(vectors), TASK_TEMPERATURE) * _PRIOR
        task_p /= task_p.sum(axis=-1, keepdims=True)
        diff_p = self._difficulty_probs(vectors)
        if floors is None:
            floors = np.zeros(len(vectors), dtype=int)
        out = []
        for tp, dp, cw, n, lo in zip(task_p, diff_p, context_weights, chars, floors, strict=True):
            level = max(harder_on_ties(dp), int(lo))
            if n > LONG_TURN_CHARS:
                level = max(level, DIFFICULTIES.index("medium"))
            out.append(
                Classification(
                    task=TASKS[int(np.argmax(tp))],
                    difficulty=DIFFICULTIES[level],
                    task_probs={t: float(p) for t, p in zip(TASKS, tp, strict=True)},
                    difficulty_probs={d: float(p) for d, p in zip(DIFFICULTIES, dp, strict=True)},
                    task_margin=_margin(tp),
                    difficulty_margin=_margin(dp),
                    context_weight=round(float(cw), 4),
                )
            )
        return out
