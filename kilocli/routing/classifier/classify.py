"""The Classifier: task and difficulty of a turn, with the session's earlier turns as context."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import shutil
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kilocli.routing.classifier import lexical
from kilocli.routing.classifier.centroids import Axis, Model
from kilocli.routing.classifier.embedding import (
    SupportsEncode,
    embed_texts,
    encoder_identity,
    normalise,
)
from kilocli.routing.classifier.examples import examples_digest, load_examples
from kilocli.routing.classifier.params import (
    CONTEXT_DECAY,
    DIFFICULTY_TEMPERATURE,
    EASY_BIAS,
    HARDER_WITHIN,
    INFO_HIGH,
    INFO_LOW,
    INHERIT_WEIGHT,
    LEXICAL_WEIGHT,
    LONG_ASK_CHARS,
    LONG_TURN_CHARS,
    MAX_CONTEXT_WEIGHT,
    PRIOR_WEIGHT,
    TASK_PRIOR,
    TASK_TEMPERATURE,
)
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS
from kilocli.routing.text import split_turn

if TYPE_CHECKING:  # corrections are read only where a store exists (engine/classifiers.py)
    from importlib.resources.abc import Traversable

    from kilocli.routing.personal import PersonalExample

TURN_MEMO = 512  # vectors of recent turns kept: a session's history is not re-embedded every turn
PREFETCH_LIMIT = TURN_MEMO // 2  # texts per prefetch(): room to spare, so none is evicted unused

_PRIOR = np.asarray(TASK_PRIOR) ** PRIOR_WEIGHT


@dataclass(frozen=True)
class Classification:
    task: str
    difficulty: str
    task_probs: dict[str, float]  # over taxonomy.TASKS, sums to 1
    difficulty_probs: dict[str, float]  # over taxonomy.DIFFICULTIES, sums to 1
    task_margin: float  # top1 - top2 probability
    difficulty_margin: float
    context_weight: float = 0.0  # how much earlier turns contributed (0 = the turn alone decided)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _margin(probs: np.ndarray) -> float:
    top = np.sort(probs)
    return float(top[-1] - top[-2])


def is_long(turn: str) -> bool:
    """Does a turn carry moderate context, so that it is never easy? (params.LONG_ASK_CHARS)"""
    return len(turn) > LONG_TURN_CHARS or len(split_turn(turn).prose) > LONG_ASK_CHARS


def _blend(probs: np.ndarray, log_lexical: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row, the normalised geometric blend p^(1-w) * q^w of two distributions."""
    w = weights[:, None]
    z = (1.0 - w) * np.log(np.maximum(probs, 1e-12)) + w * log_lexical
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def lean_easy(difficulty_probs: np.ndarray, bias: float = EASY_BIAS) -> np.ndarray:
    """Rows of difficulty probabilities with easy's log-odds raised by ``bias``: real requests
    are mostly easy, the examples are not (params.EASY_BIAS). A negative bias takes it out."""
    z = np.log(np.maximum(np.asarray(difficulty_probs, dtype=np.float64), 1e-300))
    z[..., DIFFICULTIES.index("easy")] += bias
    return _softmax(z, 1.0)


def harder_on_ties(difficulty_probs: np.ndarray) -> int:
    """Index of the hardest difficulty whose probability is within HARDER_WITHIN of the top one,
    at most one level above the top one: a tie between easy and hard ("hi": easy 0.51, hard 0.32)
    is a sign of an uninformative turn, and lands on medium, not hard."""
    probs = np.asarray(difficulty_probs)
    top = int(np.argmax(probs))
    return min(int(np.nonzero(probs >= probs.max() - HARDER_WITHIN)[0].max()), top + 1)


class Classifier:
    """Task and difficulty of a user turn, given the session's earlier user turns."""

    def __init__(self, encoder: SupportsEncode, model: Model) -> None:
        self.encoder = encoder
        self.model = model
        m = model
        self._task = Axis(m.task_whitener, m.task_centroids, m.task_examples, m.task_bounds)
        self._diff = Axis(m.diff_whitener, m.diff_centroids, m.diff_examples, m.diff_bounds)
        self._vocabulary = lexical.Vocabulary.from_bytes(m.lex_terms, m.lex_idf)
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
            f"{examples_digest(examples_dir)}|{encoder_identity(encoder)}".encode()
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

    def prefetch(self, texts: Sequence[str]) -> int:
        """Put the vectors of ``texts`` in the turn memo, those not there yet embedded in one
        encoder call; returns how many were embedded. A server deciding several requests at once
        calls it with all their turns, then classifies each from the memo. At most PREFETCH_LIMIT
        texts, so that the first is still there when the last is embedded."""
        if len(texts) > PREFETCH_LIMIT:
            raise ValueError(f"prefetch() takes at most {PREFETCH_LIMIT} texts")
        with self._memo_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        self.embed(missing)
        return len(missing)

    def classify(self, turns: Sequence[str]) -> Classification:
        """``turns``: the session's user turns, oldest first; the last is the one to route."""
        if not turns:
            raise ValueError("classify() needs at least one turn")
        vectors = self.embed(turns)
        return self.classify_vectors(vectors[-1], list(vectors[:-1]), text=turns[-1])

    def classify_many(self, prompts: Sequence[str]) -> list[Classification]:
        """Independent one-turn prompts, encoded in one batch."""
        return self._decide(self.embed(prompts), np.zeros(len(prompts)), list(prompts))

    def classify_vectors(
        self, current: np.ndarray, history: Sequence[np.ndarray] = (), *, text: str = ""
    ) -> Classification:
        """Like classify(), from vectors made by embed() (history oldest first).

        ``text``: the current turn, for its words (the lexical heads) and its length (is_long());
        "" when unknown, and the vectors alone decide.
        """
        current = np.asarray(current, dtype=np.float32)
        context = self._context(history)
        if context is None:
            return self._decide(current[None, :], np.zeros(1), [text])[0]
        weight = MAX_CONTEXT_WEIGHT * (1.0 - self.informativeness(current))
        blended = normalise((1.0 - weight) * current + weight * context)
        floor = 0
        # A follow-up ("still failing", "ok now the edge cases") is at least as hard as what the
        # session asked: it leans on the session, carries on the session's task, or reports a
        # bug in the session's work. A turn that starts another task ("now write the commit
        # message") decides for itself.
        if weight >= INHERIT_WEIGHT or self._continues(current, context):
            floor = harder_on_ties(self._difficulty_probs(context[None, :])[0])
        return self._decide(blended[None, :], np.array([weight]), [text], np.array([floor]))[0]

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
        return normalise(total)

    def _centroid_task_probs(self, vectors: np.ndarray) -> np.ndarray:
        task_p = _softmax(self._task.scores(vectors), TASK_TEMPERATURE) * _PRIOR
        return task_p / task_p.sum(axis=-1, keepdims=True)

    def task_heads(
        self, vectors: np.ndarray, texts: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The two task heads of turns before they are blended: the centroid head's probabilities
        (the task prior applied) and the lexical head's log-probabilities, rows in TASKS order.
        bench/route_ceiling.py measures each alone."""
        m = self.model
        words = [lexical.lexical_text(t) for t in texts]
        lex = lexical.log_probs(self._vocabulary, m.lex_task_coef, m.lex_task_intercept, words)
        return self._centroid_task_probs(vectors), lex

    def _difficulty_probs(self, vectors: np.ndarray) -> np.ndarray:
        return lean_easy(_softmax(self._diff.scores(vectors), DIFFICULTY_TEMPERATURE))

    def _decide(
        self,
        vectors: np.ndarray,
        context_weights: np.ndarray,
        texts: Sequence[str],
        floors: np.ndarray | None = None,
    ) -> list[Classification]:
        """``texts``: the turns themselves ("" when unknown); ``floors``: per turn, the easiest
        difficulty index it may get (default 0)."""
        diff_p = self._difficulty_probs(vectors)
        if LEXICAL_WEIGHT:
            task_p, lex = self.task_heads(vectors, texts)
            # the words weigh less as the session decides more; an unknown text has none
            share = np.where([bool(t) for t in texts], 1.0 - np.asarray(context_weights), 0.0)
            task_p = _blend(task_p, lex, LEXICAL_WEIGHT * share)
        else:
            task_p = self._centroid_task_probs(vectors)
        if floors is None:
            floors = np.zeros(len(vectors), dtype=int)
        out = []
        for tp, dp, cw, text, lo in zip(
            task_p, diff_p, context_weights, texts, floors, strict=True
        ):
            level = max(harder_on_ties(dp), int(lo))
            if is_long(text):
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
