"""`kilo models` shows the pool with prices, skills, tiers and what your keys reach."""

from __future__ import annotations

import json


def test_models_table_without_keys_says_no_provider(kilo):
    proc = kilo(["models"], env={"COLUMNS": "250"})
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    for model in ("claude-opus-4.5", "gpt-5-mini", "deepseek-v3.2", "qwen3-coder-30b-local"):
        assert model in out
    assert "no provider" in out
    assert "No provider configured" in proc.stderr.decode()


def test_models_json_marks_what_an_openai_key_reaches(kilo):
    proc = kilo(["models", "--json"], env={"OPENAI_API_KEY": "sk-x"})
    assert proc.returncode == 0, proc.stderr.decode()
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert rows["gpt-5-mini"]["reachable_via"] == "openai"
    assert rows["claude-sonnet-4.5"]["reachable_via"] is None
    sonnet = rows["claude-sonnet-4.5"]
    assert sonnet["price"]["input"] == 3.0 and sonnet["price"]["source"]
    assert len(sonnet["skills"]) == 27 and all(s["basis"] for s in sonnet["skills"].values())
    assert "frontier" in sonnet["tiers"] and "auto-efficient" in sonnet["tiers"]


def test_models_for_one_tier(kilo):
    proc = kilo(["models", "--json", "--tier", "balanced"])
    assert proc.returncode == 0, proc.stderr.decode()
    assert {r["id"] for r in json.loads(proc.stdout)} == {
        "deepseek-v3.2",
        "gpt-5-mini",
        "claude-haiku-4.5",
    }
    bad = kilo(["models", "--tier", "cheapest"])
    assert bad.returncode == 2 and "--tier" in bad.stderr.decode()
