"""The hand-written dev sets are well-formed; the bench's loader and (lenient) metrics work, and it
never prints the text of a real prompt."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import load_bench_script

from kilocli.errors import UsageError
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

REPO = Path(__file__).resolve().parents[3]
DEV_SET = REPO / "dev" / "handwritten_watched.jsonl"  # figures watched while examples were written
DEV_SETS = [
    DEV_SET,
    REPO / "dev" / "handwritten_blind.jsonl",  # written blind; aggregates read while trying rules
    REPO / "dev" / "handwritten_untuned.jsonl",  # written blind, never tuned on
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
    return load_bench_script("route_quality")


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


def test_default_sets_are_the_renamed_files(bench: ModuleType) -> None:
    names = [s.name for s in bench.DEFAULT_SETS]
    assert names == [
        "real_prompts",
        "handwritten_watched",
        "handwritten_blind",
        "handwritten_untuned",
    ]
    for s in bench.DEFAULT_SETS[1:]:
        assert s.path.is_file(), s.path
    assert REPO.parent / "shared" / "data" / "real_prompts_dev.jsonl" == bench.REAL_PROMPTS


# ------------------------------------------------------------ real prompts: lenient scoring

SECRET = "zqx-made-up-prompt-7f3a please refactor the frobnicator"
SECRET_REASON = "zqx-made-up-reason-91c"
DROP = object()  # a key to leave out of the line


def _real_line(**changes: object) -> str:
    row: dict[str, object] = {
        "id": "r-1",
        "source": "DevGPT:made-up",
        "prompt": SECRET,
        "task": "edit",
        "difficulty": "easy",
        "task_b": "generate",
        "difficulty_b": "medium",
        "reason": SECRET_REASON,
    }
    row.update(changes)
    return json.dumps({k: v for k, v in row.items() if v is not DROP})


def test_lenient_accuracy_counts_either_annotator(bench: ModuleType) -> None:
    truths = [("edit", "generate"), ("edit", "generate"), ("debug",), ("plan", "ops")]
    pred = ["generate", "edit", "debug", "review"]  # b, a, the only label, neither
    assert bench.lenient_accuracy(truths, pred) == pytest.approx(3 / 4)
    assert bench.lenient_accuracy([("edit",)], ["generate"]) == 0.0
    # one label per item: the strict figure
    assert bench.lenient_accuracy([("easy",), ("hard",)], ["easy", "medium"]) == pytest.approx(
        bench.accuracy(["easy", "hard"], ["easy", "medium"])
    )


def test_lenient_under_and_over_routing_only_beyond_both(bench: ModuleType) -> None:
    under = bench.lenient_under_routing_rate
    over = bench.lenient_over_routing_rate
    assert under([("easy", "medium")], ["easy"]) == 0.0  # below b only: not under-routed
    assert under([("medium", "easy")], ["easy"]) == 0.0  # order of annotators does not matter
    assert under([("medium", "hard")], ["easy"]) == 1.0  # below both
    assert under([("hard",)], ["medium"]) == 1.0
    assert over([("easy", "medium")], ["medium"]) == 0.0  # above a only: not over-routed
    assert over([("easy", "medium")], ["hard"]) == 1.0  # above both
    truths = [("easy", "medium"), ("medium", "hard"), ("hard", "medium"), ("easy",)]
    pred = ["easy", "easy", "medium", "hard"]
    assert under(truths, pred) == pytest.approx(1 / 4)
    assert over(truths, pred) == pytest.approx(1 / 4)
    # credited truth: the prediction when an annotator agrees, else the first annotator's label
    assert bench.credited_truth(truths, pred) == ["easy", "medium", "medium", "easy"]


def test_loader_reads_real_prompt_lines(bench: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "real.jsonl"
    lines = [_real_line(), _real_line(id="r-2", task_b="edit", difficulty_b="easy")]
    lines.append(_real_line(id="r-3", task_b=None, difficulty_b=None))  # null: no second label
    lines.append(_real_line(id="r-4", task_b=DROP, difficulty_b=DROP, reason=DROP))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one, two, three, four = bench.load_dev_set(path)
    assert one.tasks == ("edit", "generate") and one.difficulties == ("easy", "medium")
    assert one.truth == "edit|generate/easy|medium"
    assert two.tasks == ("edit",) and two.truth == "edit/easy"
    assert three.task_b is None and three.difficulties == ("easy",)
    assert four.tasks == ("edit",) and four.private  # not hand-written: still private
    assert one.private and one.context == () and one.turns == [SECRET]
    handwritten = bench.parse_dev_line(_line(), path, 1)
    assert not handwritten.private and handwritten.tasks == ("edit",)


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        (_real_line(id="r-2", task_b="chat"), "real.jsonl:2: unknown task 'chat' in 'task_b'"),
        (
            _real_line(id="r-2", difficulty_b="trivial"),
            "real.jsonl:2: unknown difficulty 'trivial' in 'difficulty_b'",
        ),
        (_real_line(id="r-2", context=["earlier"]), "real.jsonl:2: real-prompt lines have no"),
        (_real_line(id="r-2", reason=3), "real.jsonl:2: 'reason' must be a string"),
        (_real_line(id="r-2", task_b=""), "real.jsonl:2: 'task_b' must be a non-empty string"),
        (_real_line(), "real.jsonl:2: duplicate id 'r-1' (first on line 1)"),
    ],
)
def test_malformed_real_line_names_file_and_line(
    bench: ModuleType, tmp_path: Path, second_line: str, message: str
) -> None:
    path = tmp_path / "real.jsonl"
    path.write_text(_real_line() + "\n" + second_line + "\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        bench.load_dev_set(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert SECRET not in str(err.value)


def test_bench_malformed_real_file_is_one_line_exit_2(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "real.jsonl"
    path.write_text(_real_line() + "\n" + _real_line(id="r-2", task_b="chat") + "\n", "utf-8")
    assert bench.main(["--dev", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:2: unknown task 'chat'")
    assert err.count("\n") == 1


def _fake_backends(bench: ModuleType, task: str, difficulty: str) -> object:
    def classify(turns: object) -> object:
        return bench.Predicted(task, difficulty, 0.5, None)

    return bench.Backends(classify=classify, classifier_name="fake")


def test_real_items_scored_leniently_end_to_end(bench: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "real.jsonl"
    path.write_text(
        _real_line() + "\n" + _real_line(id="r-2", task_b="edit", difficulty_b="hard") + "\n",
        encoding="utf-8",
    )
    items = bench.load_dev_set(path)
    # generate/medium is annotator b on r-1; on r-2 task is wrong, difficulty below both? no:
    # r-2's annotators say easy and hard, so medium is neither and not below both
    report = bench.evaluate(items, _fake_backends(bench, "generate", "medium"), 0)
    assert report["task_accuracy"] == pytest.approx(1 / 2)
    assert report["difficulty_accuracy"] == pytest.approx(1 / 2)
    assert report["under_routing_rate"] == 0.0
    assert report["over_routing_rate"] == 0.0
    assert report["errors_total"] == 1


def test_report_for_real_items_never_contains_prompt_text(
    bench: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "real.jsonl"
    path.write_text(_real_line() + "\n", encoding="utf-8")
    items = bench.load_dev_set(path)
    report = bench.evaluate(items, _fake_backends(bench, "debug", "hard"), 10, bench.REAL_TARGETS)
    for text in (bench.format_report(report), json.dumps(report)):
        assert "r-1" in text and "debug/hard" in text  # the error is listed...
        assert "zqx" not in text  # ...without the prompt or the reason
        assert "frobnicator" not in text
    assert report["errors"] == [
        {"id": "r-1", "truth": "edit|generate/easy|medium", "predicted": "debug/hard"}
    ]


def test_report_for_handwritten_items_does_show_the_prompt(
    bench: ModuleType, tmp_path: Path
) -> None:
    # the control for the test above: the same listing shows a hand-written prompt
    path = tmp_path / "hand.jsonl"
    path.write_text(_line(id="h-1", prompt=SECRET) + "\n", encoding="utf-8")
    report = bench.evaluate(bench.load_dev_set(path), _fake_backends(bench, "debug", "hard"), 10)
    assert SECRET in bench.format_report(report)


def test_summary_table_rows_and_absent_note(bench: ModuleType) -> None:
    row = {
        "dev_set_items": 12,
        "task_accuracy": 0.75,
        "difficulty_accuracy": 0.5,
        "under_routing_rate": 0.0833,
        "over_routing_rate": 0.25,
        "tuned_on": "no",
    }
    text = bench.format_summary(
        {"real_prompts": {"skipped": "absent (x not found)"}, "handwritten_untuned": row}
    )
    lines = text.splitlines()
    assert lines[0].split() == ["set", "n", "task", "diff", "under", "over", "tuned", "on"]
    assert lines[2].split() == [
        "handwritten_untuned",
        "12",
        "75.0%",
        "50.0%",
        "8.3%",
        "25.0%",
        "no",
    ]
    assert lines[3] == "note: real_prompts: absent (x not found)"


def test_loader_splits_lines_on_newline_only(bench: ModuleType, tmp_path: Path) -> None:
    # JSON allows U+2028, U+2029 and U+0085 unescaped inside a string (str.splitlines() breaks
    # lines at all three); real prompts contain them
    path = tmp_path / "real.jsonl"
    prompt = "before\u2028middle\u2029after\x85end"
    odd = json.dumps(json.loads(_real_line(prompt=prompt)), ensure_ascii=False)
    assert "\u2028" in odd
    path.write_text(odd + "\r\n" + _real_line(id="r-2") + "\n", encoding="utf-8")
    one, two = bench.load_dev_set(path)
    assert one.prompt == prompt and two.line == 2
