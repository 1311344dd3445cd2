"""How much task accuracy on real prompts can the router's parts give? Four measurements.

1. ranks: lenient task accuracy of the classifier's first bucket, and of its first two and three
   (is the right bucket near the top?).
2. heads: the centroid head alone (whitened centroids, nearest examples, task prior), the lexical
   head alone, the two blended (the router), and how often at least one head is right.
3. in-domain: the real prompts as their own training data, 5 folds by a hash of the item id, each
   fold predicted by a model fitted on the other four: a logistic regression on the classifier's
   sentence vectors, one on the lexical head's words, and one on the classifier's own
   log-probabilities (a recalibration). What a router trained on prompts of this very kind would
   reach at this size. The project may not do that (../shared/data/README.md): it is measured only.
4. examples: the learning curve of the examples modeled on public requests. The hand-written list
   entries are always in; a random share of the modeled ones is added (3 draws per share), and the
   classifier is refitted on vectors embedded once.

Only the first turn of each item is used (real prompts have no earlier turns), and no prompt text
is printed.

    python bench/route_ceiling.py                 # ../shared/data/real_prompts_dev.jsonl
    python bench/route_ceiling.py --file F --shares 0,0.5,1 --draws 2
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_io import report_or_error  # noqa: E402
from calibrate_easy_bias import FOLDS, fold_of  # noqa: E402  (the same folds by id hash)
from route_quality import REAL_PROMPTS, DevItem, load_dev_set  # noqa: E402

from kilocli.errors import UsageError  # noqa: E402
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS  # noqa: E402

if TYPE_CHECKING:
    from kilocli.routing.classifier import Classifier, Example

SHARES = (0.0, 0.25, 0.5, 1.0)
DRAWS = 3
TRAINING_SHARES = (0.25, 0.5, 1.0)  # in-domain: smaller training folds too, to see the slope
LOGISTIC_C = 1.0  # in-domain logistic regressions: 0.3-10 measured within 3 points of each other

# (training features, training labels, test features) -> predicted labels
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def top_k_accuracy(probs: np.ndarray, truths: Sequence[Sequence[int]], k: int) -> float:
    """Share of rows whose ``k`` most probable buckets hold one of the row's right ones."""
    top = np.argsort(-np.asarray(probs), axis=1)[:, :k]
    return float(
        np.mean([bool(set(t.tolist()) & set(r)) for t, r in zip(top, truths, strict=True)])
    )


def lenient(predicted: Sequence[int] | np.ndarray, truths: Sequence[Sequence[int]]) -> float:
    """Share of predictions that match one of the row's right buckets."""
    return float(np.mean([p in t for p, t in zip(predicted, truths, strict=True)]))


def either_right(a: Sequence[int], b: Sequence[int], truths: Sequence[Sequence[int]]) -> float:
    """Share of rows where at least one of two predictions is right."""
    return float(np.mean([x in t or y in t for x, y, t in zip(a, b, truths, strict=True)]))


def out_of_fold(
    features: np.ndarray, labels: np.ndarray, folds: np.ndarray, fit_predict: FitPredict
) -> np.ndarray:
    """Each row predicted by a model fitted on the rows of the other folds only."""
    predicted = np.full(len(labels), -1, dtype=np.int64)
    for f in np.unique(folds):
        test = folds == f
        if test.all():  # one fold only: nothing to train on
            continue
        predicted[test] = fit_predict(features[~test], labels[~test], features[test])
    return predicted


def logistic(c: float = LOGISTIC_C) -> FitPredict:
    """A multinomial logistic regression (scikit-learn), standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit_predict(x: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
        if len(np.unique(y)) == 1:
            return np.full(len(test), y[0])
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
        return model.fit(x, y).predict(test)

    return fit_predict


def thinned(fit_predict: FitPredict, share: float, seed: int) -> FitPredict:
    """``fit_predict`` trained on a reproducible random ``share`` of its training rows (at least
    one): how accuracy grows with the amount of training data."""

    def fit_predict_thinned(x: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(seed)
        keep = rng.choice(len(y), size=max(1, round(share * len(y))), replace=False)
        return fit_predict(x[keep], y[keep], test)

    return fit_predict_thinned


def lexical_head(texts: Sequence[str]) -> FitPredict:
    """The classifier's lexical head (its words, its regression) fitted on rows of ``texts``: the
    features handed to the returned function are row indices into it."""
    from kilocli.routing.classifier import lexical

    words = [lexical.lexical_text(t) for t in texts]

    def fit_predict(x: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
        train_words = [words[int(i)] for i in x[:, 0]]
        vocabulary, coef, intercept = lexical.fit(train_words, y.tolist(), len(TASKS))
        scores = lexical.log_probs(vocabulary, coef, intercept, [words[int(i)] for i in test[:, 0]])
        return scores.argmax(axis=1)

    return fit_predict


def draw(pool: Sequence[Example], share: float, seed: int) -> list[Example]:
    """A reproducible random ``share`` of ``pool`` (all of it at 1, none at 0)."""
    count = round(share * len(pool))
    return random.Random(seed).sample(list(pool), count)


# ---------------------------------------------------------------- measuring (needs the encoder)


def _task_truths(items: Sequence[DevItem]) -> list[tuple[int, ...]]:
    return [tuple(TASKS.index(t) for t in i.tasks) for i in items]


def _diff_truths(items: Sequence[DevItem]) -> list[tuple[int, ...]]:
    return [tuple(DIFFICULTIES.index(d) for d in i.difficulties) for i in items]


def ranks_and_heads(
    clf: Classifier, items: Sequence[DevItem], vectors: np.ndarray, blended: np.ndarray
) -> list[str]:
    """``blended``: the router's task probabilities of the items (rows in TASKS order)."""
    truths = _task_truths(items)
    texts = [i.prompt for i in items]
    centroid, lexical_log = clf.task_heads(vectors, texts)
    c_pred, l_pred = centroid.argmax(axis=1), lexical_log.argmax(axis=1)
    lines = ["ranks: right bucket among the classifier's first 1 / 2 / 3"]
    lines.append(
        "  " + " / ".join(f"{100 * top_k_accuracy(blended, truths, k):.1f}%" for k in (1, 2, 3))
    )
    lines.append("heads: centroid alone / lexical alone / blended (the router) / either head right")
    figures = (
        lenient(c_pred.tolist(), truths),
        lenient(l_pred.tolist(), truths),
        lenient(blended.argmax(axis=1).tolist(), truths),
        either_right(c_pred.tolist(), l_pred.tolist(), truths),
    )
    lines.append("  " + " / ".join(f"{100 * f:.1f}%" for f in figures))
    return lines


def _classify(clf: Classifier, items: Sequence[DevItem], vectors: np.ndarray) -> list:
    return [clf.classify_vectors(v, text=i.prompt) for v, i in zip(vectors, items, strict=True)]


def in_domain(items: Sequence[DevItem], vectors: np.ndarray, blended: np.ndarray) -> list[str]:
    truths = _task_truths(items)
    labels = np.array([t[0] for t in truths])  # the first annotator's label is the one trained on
    folds = np.array([fold_of(i.id) for i in items])
    rows = np.arange(len(items))[:, None]
    learn = round(len(items) * (FOLDS - 1) / FOLDS)  # prompts each fold's model learns from
    lines = [f"in-domain: trained on the real prompts themselves, {FOLDS} folds by id hash"]
    lines.append("  sentence vectors, by how many prompts each fold learns from:")
    for share in TRAINING_SHARES:
        runs = range(DRAWS) if share < 1 else range(1)
        got = [
            lenient(out_of_fold(vectors, labels, folds, thinned(logistic(), share, seed)), truths)
            for seed in runs
        ]
        lines.append(f"    ~{round(share * learn):4d}: task {100 * np.mean(got):.1f}%")
    others = {
        "the lexical head's words": (rows, lexical_head([i.prompt for i in items])),
        "the router's log-probabilities": (np.log(np.maximum(blended, 1e-9)), logistic()),
    }
    for name, (features, fit_predict) in others.items():
        predicted = out_of_fold(features, labels, folds, fit_predict)
        lines.append(f"  {name + f' (~{learn})':<38} task {100 * lenient(predicted, truths):.1f}%")
    shipped = lenient(blended.argmax(axis=1).tolist(), truths)
    lines.append(f"  {'the router, as shipped':<38} task {100 * shipped:.1f}%")
    return lines


def learning_curve(
    examples: Sequence[Example],
    example_vectors: np.ndarray,
    clf: Classifier,
    items: Sequence[DevItem],
    vectors: np.ndarray,
    shares: Sequence[float],
    draws: int,
) -> list[str]:
    from kilocli.routing.classifier import Classifier, Model

    index = {id(e): n for n, e in enumerate(examples)}
    fixed = [e for e in examples if e.origin == "handwritten" or e.task is None]
    modeled = [e for e in examples if e.origin != "handwritten" and e.task is not None]
    task_truths, diff_truths = _task_truths(items), _diff_truths(items)
    lines = [
        f"examples: {len(fixed)} hand-written (always in)"
        f" + a share of {len(modeled)} modeled on public requests",
        "  share  examples  task    difficulty  (mean of the draws)",
    ]
    for share in shares:
        scores = []
        for seed in range(draws if 0 < share < 1 else 1):
            chosen = fixed + draw(modeled, share, seed)
            model = Model.fit(chosen, example_vectors[[index[id(e)] for e in chosen]])
            refit = Classifier(clf.encoder, model)
            out = _classify(refit, items, vectors)
            scores.append(
                (
                    lenient([TASKS.index(c.task) for c in out], task_truths),
                    lenient([DIFFICULTIES.index(c.difficulty) for c in out], diff_truths),
                )
            )
        task, diff = np.mean(scores, axis=0)
        count = len(fixed) + round(share * len(modeled))
        lines.append(f"  {share:5.2f}  {count:8d}  {100 * task:5.1f}%  {100 * diff:5.1f}%")
    return lines


def report(path: Path, shares: Sequence[float], draws: int) -> str:
    from kilocli.config import get_paths
    from kilocli.routing.classifier import Classifier, embed_texts, load_examples
    from kilocli.routing.encoder import load_encoder

    items = [i for i in load_dev_set(path) if len(i.turns) == 1]
    if len(items) < FOLDS:
        raise UsageError(f"{path}: {len(items)} one-turn items; at least {FOLDS} are needed")
    paths = get_paths()
    clf = Classifier.load(load_encoder(paths), paths.cache_dir)
    vectors = clf.embed([i.prompt for i in items])
    started = time.perf_counter()
    examples = load_examples()
    example_vectors = embed_texts(clf.encoder, [e.text for e in examples])
    lines = [f"{path.name}: {len(items)} prompts (lenient: right when either annotator agrees)"]
    decided = _classify(clf, items, vectors)
    blended = np.array([[c.task_probs[t] for t in TASKS] for c in decided])
    lines += ranks_and_heads(clf, items, vectors, blended)
    lines += in_domain(items, vectors, blended)
    lines += learning_curve(examples, example_vectors, clf, items, vectors, shares, draws)
    lines.append(
        f"({time.perf_counter() - started:.0f} s for the examples' vectors and the refits)"
    )
    return "\n".join(lines)


def _shares(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--shares {text}: not a comma-separated list of numbers") from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise UsageError(f"--shares {text}: every share must be between 0 and 1")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=REAL_PROMPTS, help="a real-prompt JSONL file")
    parser.add_argument("--shares", default=",".join(str(s) for s in SHARES), metavar="LIST")
    parser.add_argument("--draws", type=int, default=DRAWS, metavar="N")
    args = parser.parse_args(argv)

    def make_report() -> str:
        if args.draws < 1:
            raise UsageError(f"--draws {args.draws}: must be at least 1")
        return report(args.file, _shares(args.shares), args.draws)

    return report_or_error("route_ceiling", make_report)


if __name__ == "__main__":
    sys.exit(main())
