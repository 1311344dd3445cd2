"""bench/route_ceiling.py's pure core: top-k and lenient scoring, out-of-fold prediction that never
lets a fold see itself, thinned training sets, reproducible draws of examples, and its flags'
one-line errors. No encoder: the data are made here."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from bench_scripts import load_bench_script

from kilocli.routing.classifier import Example
from kilocli.routing.taxonomy import TASKS


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench_script("route_ceiling")


def test_top_k_counts_a_row_right_when_a_right_bucket_is_among_its_k_first(bench) -> None:
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    truths = [(1,), (0,)]
    assert bench.top_k_accuracy(probs, truths, 1) == 0.0
    assert bench.top_k_accuracy(probs, truths, 2) == 0.5  # row 0's second bucket is right
    assert bench.top_k_accuracy(probs, truths, 3) == 1.0


def test_lenient_and_either_right(bench) -> None:
    truths = [(0, 1), (2,), (1,)]
    assert bench.lenient([1, 0, 1], truths) == pytest.approx(2 / 3)
    assert bench.either_right([2, 0, 0], [0, 2, 0], truths) == pytest.approx(2 / 3)


def test_out_of_fold_never_trains_on_the_fold_it_predicts(bench) -> None:
    features = np.arange(10, dtype=np.float64)[:, None]
    labels = np.arange(10) % 3
    folds = np.arange(10) % 5
    seen: list[tuple[set[int], set[int]]] = []

    def fit_predict(x, y, test):
        seen.append(({int(v) for v in x[:, 0]}, {int(v) for v in test[:, 0]}))
        return np.zeros(len(test), dtype=np.int64)

    predicted = bench.out_of_fold(features, labels, folds, fit_predict)
    assert len(seen) == 5
    for trained, tested in seen:
        assert not trained & tested
        assert trained | tested == set(range(10))
    assert (predicted == 0).all()


def test_out_of_fold_learns_a_separable_problem(bench) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    features = np.eye(3)[labels] * 5 + rng.normal(scale=0.3, size=(60, 3))
    folds = np.arange(60) % 5
    predicted = bench.out_of_fold(features, labels, folds, bench.logistic())
    assert (predicted == labels).mean() == 1.0
    shuffled = rng.permutation(labels)  # labels unrelated to the features: about chance
    guessed = bench.out_of_fold(features, shuffled, folds, bench.logistic())
    assert (guessed == shuffled).mean() < 0.6


def test_thinned_training_keeps_a_reproducible_share(bench) -> None:
    sizes: list[tuple[int, ...]] = []

    def fit_predict(x, y, test):
        sizes.append(tuple(int(v) for v in x[:, 0]))
        return np.zeros(len(test), dtype=np.int64)

    x = np.arange(40, dtype=np.float64)[:, None]
    y = np.zeros(40, dtype=np.int64)
    bench.thinned(fit_predict, 0.25, seed=3)(x, y, x[:2])
    bench.thinned(fit_predict, 0.25, seed=3)(x, y, x[:2])
    bench.thinned(fit_predict, 0.001, seed=3)(x, y, x[:2])
    assert len(sizes[0]) == 10 and len(set(sizes[0])) == 10
    assert sizes[0] == sizes[1]
    assert len(sizes[2]) == 1  # never trained on nothing


def test_the_lexical_head_is_fitted_on_the_training_rows_only(bench) -> None:
    texts = [
        "rename the variable please",
        "rename this variable",
        "write a new function",
        "write a function for me",
        "rename variable foo",  # held out
        "write function bar",  # held out
    ]
    edit, generate = TASKS.index("edit"), TASKS.index("generate")
    rows = np.arange(6)[:, None]
    fit_predict = bench.lexical_head(texts)
    predicted = fit_predict(rows[:4], np.array([edit, edit, generate, generate]), rows[4:])
    assert predicted.tolist() == [edit, generate]


def test_draw_is_a_reproducible_share_of_the_pool(bench) -> None:
    pool = [Example(f"text {n}", "edit", "easy", f"e.toml #{n}") for n in range(20)]
    assert bench.draw(pool, 0.0, seed=1) == []
    assert sorted(e.text for e in bench.draw(pool, 1.0, seed=1)) == sorted(e.text for e in pool)
    half = bench.draw(pool, 0.5, seed=1)
    assert len(half) == 10 and all(e in pool for e in half)
    assert half == bench.draw(pool, 0.5, seed=1)
    assert half != bench.draw(pool, 0.5, seed=2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--shares", "0,2"], "--shares 0,2: every share must be between 0 and 1"),
        (["--shares", "half"], "--shares half: not a comma-separated list of numbers"),
        (["--draws", "0"], "--draws 0: must be at least 1"),
    ],
)
def test_bad_flags_are_one_line_naming_the_flag(bench, capsys, argv, message) -> None:
    assert bench.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"route_ceiling: {message}\n"


def test_a_missing_file_is_one_line_naming_it(bench, capsys, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert bench.main(["--file", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "Traceback" not in err
