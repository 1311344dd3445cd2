"""The held-out dev sets (A, B and C) are well-formed; the bench's loader and metrics work."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from kilocli.errors import UsageError
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

REPO = Path(__file__).resolve().parent.parent
DEV_SET = REPO / "dev" / "dev_set.jsonl"
DEV_SETS = [
    DEV_SET,
    REPO / "dev" / "dev_set_b.jsonl",  # set B: second held-out set, written blind
    REPO / "dev" / "dev_set_c.jsonl",  # set C: third held-out set, written blind
]
REQUIRED = {"id", "prompt", "task", "difficulty", "source"}
ALLOWED = REQUIRED | {"context"}
SOURCE = re.compile(
    r"^(handwritten|adapted from https://github\.com/[\w.-]+/[\w.-]+/(issues|pull)/\d+)$"
)


def _rows(path: Path = DEV_SET) -> list[tuple[int, dict[str, object]]]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name}:{lineno}: blank line"
        obj = json.loads(line)
        assert isinstance(obj, dict), f"{path.name}:{lineno}: not an object"
        rows.append((lineno, obj))
    return rows


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "route_quality", REPO / "bench" / "route_quality.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["route_quality"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", DEV_SETS, ids=lambda p: p.name)
def test_every_line_is_a_labeled_item(path: Path) -> None:
    for lineno, obj in _rows(path):
        where = f"{path.name}:{lineno}"
        assert obj.keys() >= REQUIRED, f"{where}: missing {REQUIRED - obj.keys()}"
        assert obj.keys() <= ALLOWED, f"{where}: unexpected {obj.keys() - ALLOWED}"
        assert obj["task"] in TASKS, f"{where}: task {obj['task']!r}"
        assert obj["difficulty"] in DIFFICULTIES, f"{where}: difficulty {obj['difficulty']!r}"
        assert isinstance(obj["prompt"], str) and obj["prompt"].strip(), where
        context = obj.get("context", [])
        assert isinstance(context, list), where
        assert all(isinstance(t, str) and t.strip() for t in context), where
        assert SOURCE.match(str(obj["source"])), f"{where}: source {obj['source']!r}"


@pytest.mark.parametrize("path", DEV_SETS, ids=lambda p: p.name)
def test_ids_unique_and_enough_items_per_bucket(path: Path) -> None:
    rows = [obj for _, obj in _rows(path)]
    ids = Counter(obj["id"] for obj in rows)
    assert [i for i, n in ids.items() if n > 1] == []
    assert len(rows) >= 300
    tasks = Counter(obj["task"] for obj in rows)
    assert {t: tasks[t] for t in TASKS if tasks[t] < 25} == {}
    difficulties = Counter(obj["difficulty"] for obj in rows)
    assert {d: difficulties[d] for d in DIFFICULTIES if difficulties[d] < 60} == {}
    assert sum(1 for obj in rows if obj.get("context")) >= 30  # terse follow-ups with a session


@pytest.mark.parametrize("path", DEV_SETS, ids=lambda p: p.name)
def test_no_duplicate_single_turn_prompts(path: Path) -> None:
    single = Counter(obj["prompt"] for _, obj in _rows(path) if not obj.get("context"))
    assert [p[:60] for p, n in single.items() if n > 1] == []


@pytest.mark.parametrize("path", DEV_SETS, ids=lambda p: p.name)
def test_loader_reads_the_whole_set(bench: ModuleType, path: Path) -> None:
    items = bench.load_dev_set(path)
    assert len(items) == len(_rows(path))
    follow_up = next(i for i in items if i.context)
    assert follow_up.turns == [*follow_up.context, follow_up.prompt]


def _line(**changes: object) -> str:
    row: dict[str, object] = {
        "id": "b",
        "prompt": "x",
        "task": "edit",
        "difficulty": "easy",
        "source": "handwritten",
    }
    row.update(changes)
    return json.dumps(row)


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ("{not json", "bad.jsonl:2: invalid JSON"),
        (_line(task="chat"), "bad.jsonl:2: unknown task 'chat'"),
        (_line(difficulty="trivial"), "bad.jsonl:2: unknown difficulty 'trivial'"),
        (_line(id="a"), "bad.jsonl:2: duplicate id 'a' (first on line 1)"),
        (_line(context="y"), "bad.jsonl:2: 'context' must be a list"),
        (_line(prompt=""), "bad.jsonl:2: 'prompt' must be a non-empty string"),
    ],
)
def test_loader_errors_name_file_and_line(
    bench: ModuleType, tmp_path: Path, second_line: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(_line(id="a") + "\n" + second_line + "\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        bench.load_dev_set(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_metrics_on_a_worked_example(bench: ModuleType) -> None:
    truth = ["easy", "medium", "hard", "hard", "easy"]
    pred = ["easy", "easy", "medium", "hard", "hard"]
    assert bench.accuracy(truth, pred) == pytest.approx(2 / 5)
    assert bench.under_routing_rate(truth, pred) == pytest.approx(
        2 / 5
    )  # medium->easy, hard->medium
    assert bench.over_routing_rate(truth, pred) == pytest.approx(1 / 5)
    assert bench.confusion(truth, pred, DIFFICULTIES) == [[1, 0, 1], [1, 0, 0], [0, 1, 1]]
    # F1: easy 2*1/(2+1+1)=0.5, medium 0, hard 2*1/(2+1+1)=0.5 -> mean 1/3
    assert bench.macro_f1(truth, pred, DIFFICULTIES) == pytest.approx(1 / 3)
    per = bench.per_bucket_accuracy(truth, pred, DIFFICULTIES)
    assert per["hard"] == {"n": 2, "accuracy": 0.5}


def test_bench_bad_dev_path_is_one_line_exit_2(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.jsonl"
    assert bench.main(["--dev", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --dev {missing}: file not found\n"
