"""The wheel carries the pools and the examples: a non-editable install routes on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_install_routes_without_the_source_tree(tmp_path, shared_cache):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("kilocli-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "kilocli" / "_pools" / "catalogue.toml").is_file()
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    # the installed copy comes first on the path; run from a folder with no pools/ in it
    env.update(PYTHONPATH=str(target), KILOCLI_HOME=str(home), HF_HUB_OFFLINE="1")
    code = (
        "import kilocli, kilocli.routing.pools as p; "
        "print(kilocli.__file__); print(p.builtin_pools_dir())"
    )
    where = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(w.startswith(str(target)) for w in where), where
    proc = subprocess.run(
        [sys.executable, "-m", "kilocli", "route", "--json", "write unit tests for the parser"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["task"] == "test"
