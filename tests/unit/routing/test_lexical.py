"""The lexical head: scikit-learn's features reproduced with numpy, and what it reads of a turn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from kilocli.routing.classifier import lexical

TEXTS = [
    "write a function that parses dates",
    "write a script that renames files",
    "why does my loop never end",
    "why does git say detached head",
    "review this pull request for bugs",
    "review my sql schema please",
    "write a class for a bank account",
    "why does docker say permission denied",
    "review this function and suggest names",
]
LABELS = [0, 0, 1, 1, 2, 2, 0, 1, 2]


def test_terms_are_lower_cased_words_and_adjacent_pairs():
    assert lexical.terms("Why does GIT fail?") == [
        "why",
        "does",
        "git",
        "fail",
        "why does",
        "does git",
        "git fail",
    ]
    assert lexical.terms("") == []


def test_scores_match_scikit_learn_on_the_same_fit():
    vocabulary, coef, intercept = lexical.fit(TEXTS, LABELS, 3)
    vectorizer = TfidfVectorizer(
        token_pattern=r"\b\w+\b", ngram_range=(1, 2), min_df=lexical.MIN_DF, sublinear_tf=True
    )
    matrix = vectorizer.fit_transform(TEXTS)
    model = LogisticRegression(C=lexical.C, max_iter=3000).fit(matrix, LABELS)
    probes = ["write write a function please", "why does it fail", "review", "", "ünïcode why"]
    ours = np.exp(lexical.log_probs(vocabulary, coef, intercept, probes))
    theirs = model.predict_proba(vectorizer.transform(probes))
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert ours[0].argmax() == 0 and ours[1].argmax() == 1 and ours[2].argmax() == 2


def test_two_classes_score_as_scikit_learn_does():
    # scikit-learn keeps one row of weights for a two-class fit: both classes must not get it
    texts, labels = TEXTS[:4], [0, 0, 2, 2]
    vocabulary, coef, intercept = lexical.fit(texts, labels, 3)
    vectorizer = TfidfVectorizer(
        token_pattern=r"\b\w+\b", ngram_range=(1, 2), min_df=lexical.MIN_DF, sublinear_tf=True
    )
    model = LogisticRegression(C=lexical.C, max_iter=3000).fit(
        vectorizer.fit_transform(texts), labels
    )
    probes = ["write a function", "why does it hang", ""]
    ours = np.exp(lexical.log_probs(vocabulary, coef, intercept, probes))
    np.testing.assert_allclose(
        ours[:, [0, 2]], model.predict_proba(vectorizer.transform(probes)), atol=1e-6
    )
    assert ours[:, 1].max() < 1e-12
    assert ours[0].argmax() == 0 and ours[1].argmax() == 2


def test_a_class_without_examples_is_never_chosen():
    vocabulary, coef, intercept = lexical.fit(TEXTS, LABELS, 4)
    probs = np.exp(lexical.log_probs(vocabulary, coef, intercept, ["anything at all", "review"]))
    assert probs[:, 3].max() < 1e-12
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_vocabulary_round_trips_through_bytes():
    vocabulary, _, _ = lexical.fit(TEXTS, LABELS, 3)
    again = lexical.Vocabulary.from_bytes(vocabulary.to_bytes(), vocabulary.idf)
    assert again.index == vocabulary.index
    idx, w = again.weights("why does it")
    assert len(idx) == 3 and w == pytest.approx(w / np.linalg.norm(w))


def test_the_head_reads_the_ask_not_the_paste():
    code = "\n".join(f"    value_{i} = compute(value_{i - 1})" for i in range(1, 30))
    turn = f"def pipeline():\n{code}\n\nwhy does this return None"
    assert lexical.lexical_text(turn) == "why does this return None"
    trace = 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
    assert lexical.lexical_text(trace) == trace[: lexical.NO_ASK_CHARS]  # no words of its own
