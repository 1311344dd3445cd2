"""The encoder cache under contention and when it cannot be written.

Both tests make a real ONNX export (seconds of CPU each): one for two processes sharing a fresh
cache, one in the temporary folder that replaces an unusable cache. They are the only tests that
do not share conftest's warmed cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kilocli.routing.encoder import PREPARING_NOTE, WAITING_NOTE

PROMPT = "rename the variable foo to bar in utils.py"


def _env(home, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env.update(KILOCLI_HOME=str(home), HF_HUB_OFFLINE="1", TMPDIR=str(tmp))
    return env


def _route(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kilocli", "route", "--json", "--no-stdin", PROMPT],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_on_a_fresh_cache_export_once(tmp_path):
    home = tmp_path / "home"
    env = _env(home, tmp_path)
    procs = [_route(env), _route(env)]
    results = [p.communicate(timeout=900) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    decisions = [json.loads(out) for out, _ in results]
    assert decisions[0]["task"] == decisions[1]["task"] == "edit"
    assert decisions[0]["model"] == decisions[1]["model"]
    errs = [err for _, err in results]
    assert sum(PREPARING_NOTE in e for e in errs) == 1  # exactly one export
    assert sum(WAITING_NOTE in e for e in errs) == 1  # the other waited, and said so once
    assert all(e.count(WAITING_NOTE) <= 1 for e in errs)
    exports = [d for d in (home / "cache" / "encoder").iterdir() if d.is_dir()]
    assert len(exports) == 1 and (exports[0] / "model.onnx").is_file()
    # no half-made export left behind by either process
    assert not [
        p.name for p in exports[0].parent.iterdir() if p.name.startswith((".export-", ".old-"))
    ]


def test_route_works_when_the_cache_folder_cannot_be_used(tmp_path):
    # root ignores permission bits, so make the folder impossible another way: a file in its place
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").write_text("not a folder")
    if os.geteuid() != 0:  # and, where permissions are enforced, a read-only home as well
        (home / "data").mkdir()
        home.chmod(0o500)
    env = _env(home, tmp_path)
    try:
        proc = _route(env)
        out, err = proc.communicate(timeout=900)
    finally:
        home.chmod(0o700)
    assert proc.returncode == 0, err
    assert json.loads(out)["task"] == "edit"
    assert err.count(f"cache folder {home / 'cache'} cannot be used") == 1
    assert "using a temporary one" in err and "Traceback" not in err
    assert (home / "cache").read_text() == "not a folder"  # left alone
    # the temporary cache is removed at exit (torch leaves its own folders there)
    assert [p.name for p in (tmp_path / "tmp").glob("kilocli-cache-*")] == []
