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
5. The task probabilities are blended (``LEXICAL_WEIGHT``) with those of a logistic regression over
   the words and word pairs of the ask (``lexical.py``): the words that say what is asked ("write",
   "why does", "review") are few, and the sentence vectors place a request by its subject.

Difficulty ties go harder: the chosen difficulty is the hardest whose probability is within
``HARDER_WITHIN`` of the most probable one, one level up at most, because under-routing a hard
request costs more than paying a little more for an easy one. A turn whose own words run over
``LONG_ASK_CHARS`` characters, or whose whole text runs over ``LONG_TURN_CHARS``, is never easy.

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

    params.py      every calibrated number, with how it was measured
    examples.py    the labeled utterances (examples/*.toml) read and checked
    embedding.py   a turn as one vector: its ask and its paste embedded apart and mixed
    centroids.py   the fitted model: whitened centroids and examples per axis, their scores
    lexical.py     the lexical head: a linear model over the ask's words, fitted with scikit-learn
    classify.py    the Classifier: probabilities, harder on ties, session context
"""

from kilocli.routing.classifier.centroids import Axis, Model
from kilocli.routing.classifier.classify import (
    Classification,
    Classifier,
    harder_on_ties,
    is_long,
    lean_easy,
)
from kilocli.routing.classifier.embedding import SupportsEncode, embed_texts, embedding_key
from kilocli.routing.classifier.examples import (
    EXAMPLE_TABLE,
    FOLLOWUP_TABLE,
    SHAPES,
    Example,
    default_examples_dir,
    examples_digest,
    load_examples,
)
from kilocli.routing.classifier.params import (
    HARDER_WITHIN,
    INHERIT_WEIGHT,
    LEXICAL_WEIGHT,
    LONG_ASK_CHARS,
    LONG_TURN_CHARS,
    PASTE_TOKENS,
    PASTE_WEIGHT,
)

__all__ = [
    "EXAMPLE_TABLE",
    "FOLLOWUP_TABLE",
    "HARDER_WITHIN",
    "INHERIT_WEIGHT",
    "LEXICAL_WEIGHT",
    "LONG_ASK_CHARS",
    "LONG_TURN_CHARS",
    "PASTE_TOKENS",
    "PASTE_WEIGHT",
    "SHAPES",
    "Axis",
    "Classification",
    "Classifier",
    "Example",
    "Model",
    "SupportsEncode",
    "default_examples_dir",
    "embed_texts",
    "embedding_key",
    "examples_digest",
    "harder_on_ties",
    "is_long",
    "lean_easy",
    "load_examples",
]
