"""Calibrate the classifier's EASY_BIAS on real prompts, out of fold.

For every candidate bias, the real prompts' difficulty is decided again from the classifier's own
probabilities (the current bias taken back out, the candidate put in, then the harder-on-ties rule
and the length floor, as the classifier does) and scored leniently: right when either annotator
agrees, under-routed when below both. Then 5 folds by a hash of the item id: each fold gets the bias
that is most accurate on the other four while keeping their under-routing within ``--max-under``,
and the out-of-fold figures are those of the folds' own picks. How the value in
kilocli/routing/classifier/params.py was chosen; the hand-written sets are then measured with it by
bench/route_quality.py. Only the first turn of each item is decided again (real prompts have no
earlier turns), and no prompt text is printed.

    python bench/calibrate_easy_bias.py     # ../shared/data/real_prompts_dev.jsonl
    python bench/calibrate_easy_bias.py --file F --max-under 0.06
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_io import report_or_error  # noqa: E402
from route_quality import REAL_PROMPTS, load_dev_set  # noqa: E402

from kilocli.errors import UsageError  # noqa: E402
from kilocli.routing.classifier.classify import harder_on_ties, lean_easy  # noqa: E402
from kilocli.routing.classifier.params import EASY_BIAS  # noqa: E402
from kilocli.routing.taxonomy import DIFFICULTIES  # noqa: E402

BIASES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
FOLDS = 5
MEDIUM = DIFFICULTIES.index("medium")


@dataclass(frozen=True)
class Scored:
    """One item: its difficulty probabilities with no easy bias, whether the length floor holds
    it above easy, the annotators' difficulty indices, and its fold."""

    probs: np.ndarray
    long: bool
    truths: tuple[int, ...]
    fold: int


def fold_of(item_id: str) -> int:
    """The split of the earlier calibrations in params.py (sha1 of the id, modulo 5)."""
    return int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % FOLDS


def unbiased(probs: Sequence[float], bias: float) -> np.ndarray:
    """Probabilities with an easy bias of ``bias`` (log-odds) taken back out."""
    return lean_easy(np.asarray(probs), -bias)


def decide(item: Scored, bias: float) -> int:
    """The difficulty index the classifier gives with easy bias ``bias``."""
    level = harder_on_ties(lean_easy(item.probs, bias))
    return max(level, MEDIUM) if item.long else level


def score(items: Sequence[Scored], bias: float) -> tuple[float, float]:
    """(lenient accuracy, under-routing rate) with easy bias ``bias``."""
    levels = [decide(i, bias) for i in items]
    right = sum(level in i.truths for level, i in zip(levels, items, strict=True))
    under = sum(level < min(i.truths) for level, i in zip(levels, items, strict=True))
    return right / len(items), under / len(items)


def pick(items: Sequence[Scored], biases: Sequence[float], max_under: float) -> float:
    """The most accurate bias whose under-routing stays within ``max_under`` (the smallest bias on
    ties; 0 when none keeps within it)."""
    allowed = [b for b in biases if score(items, b)[1] <= max_under]
    return max(allowed, key=lambda b: (score(items, b)[0], -b)) if allowed else 0.0


def out_of_fold(
    items: Sequence[Scored], biases: Sequence[float], max_under: float
) -> tuple[float, float, list[float]]:
    """(accuracy, under-routing, each fold's pick): each fold decided with the bias picked on the
    others."""
    picks: list[float] = []
    right = under = 0
    for f in range(FOLDS):
        train = [i for i in items if i.fold != f]
        test = [i for i in items if i.fold == f]
        if not train or not test:
            continue
        bias = pick(train, biases, max_under)
        picks.append(bias)
        for i in test:
            level = decide(i, bias)
            right += level in i.truths
            under += level < min(i.truths)
    return right / len(items), under / len(items), picks


def load_scored(path: Path) -> list[Scored]:
    """Classify every item of a real-prompt file with the project classifier."""
    from kilocli.config import get_paths
    from kilocli.routing.classifier import Classifier, is_long
    from kilocli.routing.encoder import load_encoder

    items = load_dev_set(path)
    if not items:
        raise UsageError(f"{path}: no items")
    paths = get_paths()
    clf = Classifier.load(load_encoder(paths), paths.cache_dir)
    out = []
    for item in items:
        c = clf.classify(item.turns)
        probs = unbiased([c.difficulty_probs[d] for d in DIFFICULTIES], EASY_BIAS)
        truths = tuple(DIFFICULTIES.index(d) for d in item.difficulties)
        out.append(Scored(probs, is_long(item.prompt), truths, fold_of(item.id)))
    return out


def report(items: Sequence[Scored], biases: Sequence[float], max_under: float) -> str:
    lines = [f"{len(items)} items, {FOLDS} folds by id hash; current EASY_BIAS = {EASY_BIAS}"]
    lines.append(f"{'bias':>5}  {'difficulty':>10}  {'under':>6}  per-fold difficulty")
    for b in biases:
        acc, under = score(items, b)
        folds = [score([i for i in items if i.fold == f], b)[0] for f in range(FOLDS)]
        per = " ".join(f"{100 * a:4.0f}" for a in folds)
        lines.append(f"{b:5.2f}  {100 * acc:9.1f}%  {100 * under:5.1f}%  {per}")
    acc, under, picks = out_of_fold(items, biases, max_under)
    lines.append(
        f"out of fold (under-routing within {100 * max_under:.0f}% on the other folds): "
        f"difficulty {100 * acc:.1f}%, under-routing {100 * under:.1f}%, picks {picks}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=REAL_PROMPTS, help="a real-prompt JSONL file")
    parser.add_argument("--max-under", type=float, default=0.06, metavar="RATE")
    args = parser.parse_args(argv)

    def make_report() -> str:
        if not 0 <= args.max_under <= 1:
            raise UsageError(f"--max-under {args.max_under}: must be between 0 and 1")
        return report(load_scored(args.file), BIASES, args.max_under)

    return report_or_error("calibrate_easy_bias", make_report)


if __name__ == "__main__":
    sys.exit(main())
