"""Corrections as personal examples, without the encoder: which corrections count and how much,
labels and escalation, corrections in the real SQLite store (routing with them, and the command
line: tests/e2e/routing/test_personal.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kilocli.config import get_paths
from kilocli.errors import UsageError
from kilocli.personal_io import cache_file, read_personal
from kilocli.routing.personal import CAP, HALF_LIFE_DAYS, escalated_label, parse_label, select
from kilocli.store import Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_select_keeps_the_newest_cap_and_weighs_by_age():
    rows = [(i, f"prompt {i}", "edit", "easy", NOW - timedelta(days=i)) for i in range(CAP + 5)]
    chosen = select(rows, NOW)
    assert len(chosen) == CAP
    assert [e.id for e in chosen[:3]] == [0, 1, 2]  # newest first
    assert chosen[0].weight == pytest.approx(1.0)
    assert chosen[-1].id == CAP - 1  # the five oldest are left out
    half = select([(1, "x", "edit", "easy", NOW - timedelta(days=HALF_LIFE_DAYS))], NOW)
    assert half[0].weight == pytest.approx(0.5)


def test_select_newest_label_of_a_prompt_wins_and_bad_labels_are_skipped():
    rows = [
        (1, "same", "plan", "hard", NOW - timedelta(days=2)),
        (2, "same", "edit", "easy", NOW - timedelta(days=1)),
        (3, "other", "nonsense", "easy", NOW),
    ]
    assert [(e.id, e.task, e.difficulty) for e in select(rows, NOW)] == [(2, "edit", "easy")]


def test_parse_label_accepts_both_spellings_and_names_the_allowed_values():
    assert parse_label(["edit/easy"], "--teach") == ("edit", "easy")
    assert parse_label(["Plan", "HARD"], "/wrong") == ("plan", "hard")
    with pytest.raises(UsageError) as exc:
        parse_label(["edit/trivial"], "--teach")
    assert str(exc.value).startswith("--teach: unknown difficulty 'trivial' (tasks: edit, docs")
    assert "difficulties: easy, medium, hard" in str(exc.value)
    with pytest.raises(UsageError, match="/wrong: unknown task 'refactor'"):
        parse_label(["refactor", "easy"], "/wrong")
    with pytest.raises(UsageError, match="expected TASK/DIFFICULTY"):
        parse_label(["edit"], "--teach")


def test_an_escalation_means_one_level_harder():
    assert escalated_label("edit", "easy") == ("edit", "medium")
    assert escalated_label("debug", "medium") == ("debug", "hard")
    assert escalated_label("plan", "hard") == ("plan", "hard")


def test_corrections_round_trip_through_the_store(tmp_path):
    paths = get_paths({"KILOCLI_HOME": str(tmp_path / "h")})
    assert read_personal(paths) == []  # no database: nothing, and none is created
    assert not paths.database.exists()
    with Store(paths.database) as store:
        first = store.add_correction("migrate the users table", "edit", "easy", "teach")
        store.add_correction(
            "why is it slow", "debug", "hard", "wrong", routed={"task": "explain", "model": "m"}
        )
        with pytest.raises(ValueError):
            store.add_correction("x", "edit", "trivial", "teach")
        records = store.corrections()
        assert [(c.task, c.difficulty, c.source) for c in records] == [
            ("debug", "hard", "wrong"),
            ("edit", "easy", "teach"),
        ]
        assert records[0].routed_task == "explain" and records[0].routed_model == "m"
        assert store.delete_correction(first) and not store.delete_correction(first)
    assert [e.text for e in read_personal(paths)] == ["why is it slow"]
    assert cache_file(paths, "k").parent == paths.cache_dir / "personal"


def test_a_database_from_before_corrections_is_migrated_in_place(tmp_path):
    import sqlite3

    from kilocli.store import MIGRATIONS

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for statement in MIGRATIONS[0][2]:  # the schema as the previous release left it
        conn.execute(statement)
    conn.execute(
        "INSERT INTO sessions VALUES ('s1', 'chat', 'free', 't', '2026-11-01T00:00:00+00:00', "
        "'2026-11-01T00:00:00+00:00')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.session("s1").id == "s1"  # old data kept
        cid = store.add_correction("migrate the users table", "edit", "easy", "teach")
        assert [c.id for c in store.corrections()] == [cid]
