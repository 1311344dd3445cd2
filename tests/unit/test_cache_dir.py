"""The cache folder check of every route: a probe file made and removed, no tempfile import."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from kilocli.cache_dir import usable_cache
from kilocli.config import get_paths


def notes_of(paths) -> tuple[object, list[str]]:
    notes: list[str] = []
    return usable_cache(paths, notes.append), notes


def test_a_writable_cache_is_used_as_it_is_and_left_clean() -> None:
    paths = get_paths()
    used, notes = notes_of(paths)
    assert used == paths and notes == []
    assert list(paths.cache_dir.iterdir()) == []  # the probe is gone


def test_a_stale_probe_or_a_planted_link_does_not_get_in_the_way(tmp_path: Path) -> None:
    paths = get_paths()
    paths.cache_dir.mkdir(parents=True)
    probe = paths.cache_dir / f".probe-{os.getpid()}-{threading.get_ident()}"
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    probe.symlink_to(target)
    used, notes = notes_of(paths)
    assert used == paths and notes == []
    assert target.read_text() == "keep me" and not probe.is_symlink()  # removed, not followed
    probe.write_text("left by a killed process")
    used, notes = notes_of(paths)
    assert used == paths and notes == [] and not probe.exists()


def test_a_file_where_the_folder_should_be_means_a_temporary_cache() -> None:
    paths = get_paths()
    paths.cache_dir.parent.mkdir(parents=True, exist_ok=True)
    paths.cache_dir.write_text("not a folder")
    used, notes = notes_of(paths)
    assert used.cache_dir != paths.cache_dir and used.cache_dir.is_dir()
    assert len(notes) == 1 and "a file stands where a folder is needed" in notes[0]
