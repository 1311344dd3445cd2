"""Corrections as personal examples routed with the real MiniLM encoder; `kilo route --teach`,
`kilo examples`, `kilo ask --up`, `--no-personal` (the pure rules and the store:
tests/unit/routing/test_personal.py).

The teaching and no-harm texts are the bench's (bench/personal_examples.py): hand-written, none from
the real-prompt file.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from kilocli.config import get_paths
from kilocli.personal_io import personal_vectors
from kilocli.routing.classifier import Classifier, embed_texts, embedding_key
from kilocli.routing.encoder import load_encoder
from kilocli.routing.personal import PersonalExample, escalated_label
from kilocli.store import Store

REPO = Path(__file__).resolve().parents[3]


def _bench():
    spec = importlib.util.spec_from_file_location(
        "personal_examples", REPO / "bench" / "personal_examples.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("personal_examples", module)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


# -- the classifier with the real encoder ----
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    paths = get_paths({"KILOCLI_HOME": str(tmp_path_factory.mktemp("personal-home"))})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        encoder = load_encoder(paths)
    return Classifier.load(encoder, paths.cache_dir)


def _taught(base: Classifier, texts: Sequence[str], label: tuple[str, str]) -> Classifier:
    examples = [PersonalExample(i, t, *label) for i, t in enumerate(texts, 1)]
    return base.personalised(examples, embed_texts(base.encoder, list(texts)))


def test_ten_corrections_change_how_similar_new_requests_route(base):
    want = "/".join(BENCH.MIGRATE_LABEL)
    taught = _taught(base, BENCH.MIGRATE_TEACH, BENCH.MIGRATE_LABEL)
    before = [base.classify([t]) for t in BENCH.MIGRATE_NEW]
    after = [taught.classify([t]) for t in BENCH.MIGRATE_NEW]
    assert not set(BENCH.MIGRATE_NEW) & set(BENCH.MIGRATE_TEACH)  # similar, not identical
    assert sum(f"{c.task}/{c.difficulty}" == want for c in before) == 0
    assert sum(f"{c.task}/{c.difficulty}" == want for c in after) >= 3
    assert sum(c.task == "edit" for c in after) >= 5
    # the built-in classifier is untouched by personalising a copy of it
    assert [(c.task, c.difficulty) for c in before] == [
        (c.task, c.difficulty) for c in (base.classify([t]) for t in BENCH.MIGRATE_NEW)
    ]


def test_one_correction_decides_the_same_prompt_again(base):
    text = "migrate the users table"
    assert base.classify([text]).task != "edit" or base.classify([text]).difficulty != "easy"
    taught = _taught(base, [text], ("edit", "easy"))
    c = taught.classify([text])
    assert (c.task, c.difficulty) == ("edit", "easy")
    assert taught.nearest_personal(text)[0][1] == pytest.approx(1.0, abs=1e-4)


def test_a_faded_correction_counts_less(base):
    text = BENCH.MIGRATE_NEW[0]
    vectors = embed_texts(base.encoder, list(BENCH.MIGRATE_TEACH))
    fresh = [PersonalExample(i, t, "edit", "easy", 1.0) for i, t in enumerate(BENCH.MIGRATE_TEACH)]
    old = [PersonalExample(e.id, e.text, "edit", "easy", 0.05) for e in fresh]
    p_fresh = base.personalised(fresh, vectors).classify([text]).difficulty_probs["easy"]
    p_old = base.personalised(old, vectors).classify([text]).difficulty_probs["easy"]
    p_none = base.classify([text]).difficulty_probs["easy"]
    assert p_fresh > p_old > p_none - 1e-9


@pytest.mark.parametrize(
    "name", ["handwritten_watched", "handwritten_blind", "handwritten_untuned"]
)
def test_a_hundred_unrelated_corrections_cost_the_dev_sets_at_most_a_point(base, name):
    sys.path.insert(0, str(REPO / "bench"))
    from route_quality import load_dev_set

    assert len(BENCH.UNRELATED) == 100
    items = load_dev_set(REPO / "dev" / f"{name}.jsonl")
    with_them = BENCH.personalised(base, BENCH.UNRELATED)
    without, with_ = BENCH.measure_set(base, items), BENCH.measure_set(with_them, items)
    assert with_["task_accuracy"] >= without["task_accuracy"] - 0.01
    assert with_["difficulty_accuracy"] >= without["difficulty_accuracy"] - 0.01
    assert with_["under_routing_rate"] <= without["under_routing_rate"] + 0.01


# -- the vector cache: keyed by text hash, incremental ----
class CountingEncoder:
    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, 0

    def encode(self, texts: Sequence[str], max_tokens: int = 256) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.encode(texts, max_tokens=max_tokens)


def test_vectors_are_cached_and_only_new_examples_are_encoded(base, tmp_path):
    enc = CountingEncoder(base.encoder)
    cache = tmp_path / "personal" / f"{embedding_key(enc)}.npz"
    examples = [PersonalExample(i, t, "edit", "easy") for i, t in enumerate(BENCH.MIGRATE_TEACH)]

    def embed(texts: Sequence[str]) -> np.ndarray:
        return embed_texts(enc, texts)

    first = personal_vectors(examples[:8], embed, cache, enc.dim)
    assert enc.texts == 8 and cache.is_file()
    again = personal_vectors(examples[:8], embed, cache, enc.dim)
    assert enc.texts == 8  # nothing encoded: all from the cache
    np.testing.assert_allclose(first, again, atol=1e-6)
    more = personal_vectors(examples, embed, cache, enc.dim)
    assert enc.texts == 10  # only the two new ones
    np.testing.assert_allclose(more[:8], first, atol=1e-6)
    np.testing.assert_allclose(
        more[8:], embed_texts(base.encoder, BENCH.MIGRATE_TEACH[8:]), atol=1e-5
    )
    cache.write_bytes(b"not an npz")  # damaged: re-encoded, not an error
    personal_vectors(examples, embed, cache, enc.dim)
    assert enc.texts == 20


# -- the command line ----
def _route(kilo, *args: str) -> dict:
    proc = kilo(["route", "--json", *args])
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def test_teach_changes_routing_of_a_similar_request_and_no_personal_does_not(kilo, fake_server):
    probe = "migrate the refunds table to the new enum type"
    before = _route(kilo, probe)
    bad = kilo(["route", "--teach", "edit/tiny", "migrate the users table"])
    assert bad.returncode == 2
    err = bad.stderr.decode()
    assert err.count("\n") == 1 and "--teach: unknown difficulty 'tiny'" in err
    assert "difficulties: easy, medium, hard" in err and "Traceback" not in err
    taught = kilo(["route", "--teach", "edit/easy", BENCH.MIGRATE_TEACH[0]])
    assert taught.returncode == 0, taught.stderr.decode()
    assert taught.stdout.decode().startswith("recorded #1: edit/easy (it was routed ")
    with Store(get_paths().database) as store:  # the other nine, as /wrong would record them
        for text in BENCH.MIGRATE_TEACH[1:]:
            store.add_correction(text, "edit", "easy", "wrong")
    after = _route(kilo, probe)
    plain = _route(kilo, "--no-personal", probe)
    assert (before["task"], before["difficulty"]) != ("edit", "easy")
    assert (after["task"], after["difficulty"]) == ("edit", "easy")
    assert (plain["task"], plain["difficulty"]) == (before["task"], before["difficulty"])
    moved = [n for n in after["notes"] if n.startswith("your corrections moved this")]
    assert moved and f"from {before['task']}/{before['difficulty']} to edit/easy" in moved[0]
    assert not any("corrections" in n for n in plain["notes"])
    explain = kilo(["route", "--explain", probe])
    assert "your corrections moved this" in explain.stdout.decode()
    # kilo ask routes the same way, and --no-personal there too
    fake_server.script(answer="ok")
    env = {"OPENAI_BASE_URL": fake_server.url, "OPENAI_API_KEY": "sk-test"}
    asked = [
        json.loads(kilo(["ask", "--json", *flag, probe], env=env).stdout)["decision"]
        for flag in ([], ["--no-personal"])
    ]
    assert [(d["task"], d["difficulty"]) for d in asked] == [
        ("edit", "easy"),
        (before["task"], before["difficulty"]),
    ]
    # the vectors were cached by text: a new correction adds one row
    caches = list((kilo.home / "cache" / "personal").glob("*.npz"))
    assert len(caches) == 1
    with np.load(caches[0]) as data:
        assert len(data["keys"]) == 10


def test_examples_list_rm_export(kilo):
    with Store(get_paths().database) as store:
        a = store.add_correction("tidy \x1b[2Jthe imports", "edit", "easy", "teach")
        b = store.add_correction("why is the e2e test flaky", "debug", "hard", "wrong")
    listed = kilo(["examples", "list", "--json"])
    assert listed.returncode == 0, listed.stderr.decode()
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["task"], r["difficulty"], r["used"]) for r in rows] == [
        (b, "debug", "hard", True),
        (a, "edit", "easy", True),
    ]
    table = kilo(["examples", "list"]).stdout.decode()
    assert "\x1b" not in table and "␛[2Jthe imports" in table
    exported = kilo(["examples", "export"]).stdout.decode().splitlines()
    assert [json.loads(line)["prompt"] for line in exported] == [
        "why is the e2e test flaky",
        "tidy \x1b[2Jthe imports",  # into a pipe: verbatim, as stored
    ]
    removed = kilo(["examples", "rm", str(a)])
    assert removed.returncode == 0 and f"deleted #{a}" in removed.stderr.decode()
    missing = kilo(["examples", "rm", "999"])
    assert missing.returncode == 2
    assert missing.stderr.decode().strip() == "error: no correction #999 (kilo examples list)"
    assert [r["id"] for r in json.loads(kilo(["examples", "list", "--json"]).stdout)] == [b]


def test_ask_up_escalates_and_records_the_correction(kilo, fake_server):
    fake_server.script(answer="done")
    env = {"OPENAI_BASE_URL": fake_server.url, "OPENAI_API_KEY": "sk-test"}
    plain = kilo(["ask", "--json", "rename tmp to total in utils.py"], env=env)
    assert plain.returncode == 0, plain.stderr.decode()
    routed = json.loads(plain.stdout)["decision"]
    up = kilo(["ask", "--json", "--up", "rename tmp to total in utils.py"], env=env)
    assert up.returncode == 0, up.stderr.decode()
    out = json.loads(up.stdout)
    assert out["model"] != routed["model"]
    assert fake_server.requests[-1].model != fake_server.requests[0].model
    assert "--up: retry with a stronger model" in up.stderr.decode()
    with Store(get_paths().database) as store:
        [c] = store.corrections()
    assert c.source == "ask-up" and c.prompt == "rename tmp to total in utils.py"
    assert (c.task, c.difficulty) == escalated_label(routed["task"], routed["difficulty"])
    assert c.routed_model == routed["model"] and c.model == out["model"]
    assert c.turn_id is not None
    clash = kilo(["ask", "--up", "--model", "gpt-5-nano", "hi"], env=env)
    assert clash.returncode == 2 and "--up" in clash.stderr.decode()


def test_a_damaged_database_routes_without_corrections_and_says_so(kilo):
    database = get_paths().database
    database.parent.mkdir(parents=True, exist_ok=True)
    database.write_bytes(b"this is not a database" * 100)
    proc = kilo(["route", "rename tmp to total in utils.py"])
    assert proc.returncode == 0, proc.stderr.decode()
    err = proc.stderr.decode()
    assert "routing without your corrections:" in err and "Traceback" not in err
    assert proc.stdout.decode().startswith("edit/")
