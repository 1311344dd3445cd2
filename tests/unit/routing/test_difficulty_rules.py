"""The difficulty rules after the centroids: easy's odds raised (real requests are mostly easy),
then harder on ties. Pure numpy: no encoder."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kilocli.routing.classifier import HARDER_WITHIN, harder_on_ties, lean_easy
from kilocli.routing.classifier.params import EASY_BIAS


def test_easy_gains_odds_and_the_rest_keep_theirs() -> None:
    probs = np.array([0.4, 0.35, 0.25])
    leaned = lean_easy(probs)
    assert leaned.sum() == pytest.approx(1.0)
    assert math.log(leaned[0] / leaned[1]) == pytest.approx(math.log(0.4 / 0.35) + EASY_BIAS)
    assert leaned[1] / leaned[2] == pytest.approx(0.35 / 0.25)  # medium vs hard untouched


def test_rows_are_leaned_one_by_one() -> None:
    rows = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    assert np.allclose(lean_easy(rows), np.stack([lean_easy(r) for r in rows]))


def test_a_near_tie_between_easy_and_medium_now_stays_easy() -> None:
    near_tie = np.array([0.55, 0.38, 0.07])
    assert harder_on_ties(near_tie) == 1  # alone, the tie rule sends it up
    assert harder_on_ties(lean_easy(near_tie)) == 0
    assert EASY_BIAS > 0 and HARDER_WITHIN > 0


def test_a_clear_medium_or_hard_is_not_pulled_down() -> None:
    assert harder_on_ties(lean_easy(np.array([0.30, 0.60, 0.10]))) == 1
    assert harder_on_ties(lean_easy(np.array([0.10, 0.25, 0.65]))) == 2


def test_hi_stays_off_hard() -> None:
    # an uninformative turn, easy 0.51 vs hard 0.32, is at most medium
    assert harder_on_ties(lean_easy(np.array([0.51, 0.17, 0.32]))) <= 1
