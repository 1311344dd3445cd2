"""bench/calibrate_easy_bias.py's pure core: deciding a difficulty with a candidate bias exactly as
the classifier does, scoring it leniently, and picking a bias out of fold within an under-routing
cap. No encoder: the items are made here."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from bench_scripts import load_bench_script

from kilocli.routing.classifier import lean_easy
from kilocli.routing.classifier.classify import harder_on_ties
from kilocli.routing.classifier.params import EASY_BIAS

REPO = Path(__file__).resolve().parents[3]
EASY, MEDIUM, HARD = 0, 1, 2


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench_script("calibrate_easy_bias")


def item(bench, probs, truths, fold=0, long=False):
    return bench.Scored(np.asarray(probs, dtype=np.float64), long, tuple(truths), fold)


def test_taking_the_bias_out_undoes_the_classifiers_lean(bench) -> None:
    raw = np.array([0.45, 0.40, 0.15])
    assert np.allclose(bench.unbiased(lean_easy(raw), EASY_BIAS), raw)


def test_decide_at_the_current_bias_is_the_classifiers_decision(bench) -> None:
    for raw in ([0.55, 0.38, 0.07], [0.3, 0.6, 0.1], [0.51, 0.17, 0.32], [0.9, 0.08, 0.02]):
        expected = harder_on_ties(lean_easy(np.array(raw)))
        assert bench.decide(item(bench, raw, [EASY]), EASY_BIAS) == expected


def test_the_length_floor_holds_a_long_turn_above_easy(bench) -> None:
    assert bench.decide(item(bench, [0.95, 0.04, 0.01], [EASY], long=True), 0.5) == MEDIUM


def test_scores_are_lenient_and_under_routing_is_below_every_label(bench) -> None:
    items = [
        item(bench, [0.9, 0.05, 0.05], [EASY, MEDIUM]),  # easy: right (one annotator said easy)
        item(bench, [0.9, 0.05, 0.05], [MEDIUM, HARD]),  # easy: under-routed
        item(bench, [0.1, 0.8, 0.1], [EASY]),  # medium: over, not under
    ]
    assert bench.score(items, 0.0) == (pytest.approx(1 / 3), pytest.approx(1 / 3))


def test_the_pick_is_the_most_accurate_bias_within_the_cap(bench) -> None:
    # two near-ties that are easy, and one that is medium: a bias turns all three easy
    tie = [0.55, 0.40, 0.05]
    items = [item(bench, tie, [EASY]), item(bench, tie, [EASY]), item(bench, tie, [MEDIUM])]
    assert bench.score(items, 0.0) == (pytest.approx(1 / 3), 0.0)
    assert bench.score(items, 0.5) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    assert bench.pick(items, [0.0, 0.5], max_under=0.5) == 0.5
    assert bench.pick(items, [0.0, 0.5], max_under=0.2) == 0.0  # the cap rules the bias out


def test_out_of_fold_decides_each_fold_with_the_others_pick(bench) -> None:
    tie = [0.55, 0.40, 0.05]
    # folds 0-3 reward a bias (their near-ties are easy); fold 4's near-tie is medium
    items = [item(bench, tie, [EASY], fold=f) for f in range(4)] + [
        item(bench, tie, [MEDIUM], fold=4)
    ]
    acc, under, picks = bench.out_of_fold(items, [0.0, 0.5], max_under=0.5)
    assert picks == [0.5, 0.5, 0.5, 0.5, 0.5]
    assert (acc, under) == (pytest.approx(0.8), pytest.approx(0.2))
