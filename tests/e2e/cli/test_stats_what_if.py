"""`kilo stats --what-if TIER` over a store filled by real asks against the loopback server."""

from __future__ import annotations

import json

import pytest

from kilocli.config import get_paths
from kilocli.routing.pools import load_catalogue

KEY = "sk-test-DO-NOT-LEAK-4242"


def _env(server) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY}


def _price(model: str, tokens_in: int, tokens_out: int) -> float:
    price = load_catalogue(get_paths()).models[model].price
    return (price.input * tokens_in + price.output * tokens_out) / 1_000_000


def test_what_if_replays_stored_turns_under_another_tier(kilo, fake_server):
    env = _env(fake_server)
    fake_server.script(answer="fine", input_tokens=1000, output_tokens=500)
    prompts = ["fix the typo in the readme title", "plan a zero-downtime postgres upgrade"]
    asked = []
    for prompt in prompts:
        proc = kilo(["ask", "--json", "--tier", "balanced", prompt], env=env)
        assert proc.returncode == 0, proc.stderr.decode()
        asked.append(json.loads(proc.stdout))
    # a turn cut before the provider reported usage: priced from estimates on both sides
    fake_server.script(faults=["cut:1"], answer="one two three", usage=False)
    proc = kilo(["ask", "--json", "--tier", "balanced", "explain what a closure is"], env=env)
    assert proc.returncode == 1
    cut = json.loads(proc.stdout)
    # a turn that failed before any answer is left out, as in plain stats
    fake_server.script(faults=["401"])
    assert kilo(["ask", "--tier", "balanced", "hello there"], env=env).returncode != 0

    frontier = []
    for prompt in [*prompts, "explain what a closure is"]:
        routed = kilo(["route", "--json", "--tier", "frontier", prompt], env=env)
        frontier.append(json.loads(routed.stdout))

    proc = kilo(["stats", "--what-if", "frontier", "--json"], env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    w = json.loads(proc.stdout)["what_if"]
    assert (w["tier"], w["turns"], w["estimated_turns"], w["skipped_turns"]) == (
        "frontier",
        3,
        1,
        0,
    )
    actual = sum(a["cost_usd"] for a in asked) + cut["decision"]["estimated_cost_usd"]
    expected = sum(_price(f["model"], 1000, 500) for f in frontier[:2])
    expected += frontier[2]["estimated_cost_usd"]
    assert w["actual_cost_usd"] == pytest.approx(actual, rel=1e-6)
    assert w["what_if_cost_usd"] == pytest.approx(expected, rel=1e-6)
    assert w["difference_usd"] == pytest.approx(expected - actual, rel=1e-6)
    assert w["difference_usd"] > 0  # the frontier tier costs more than balanced
    assert w["changed_model"] == sum(
        f["model"] != a["model"] for f, a in zip(frontier, [*asked, cut], strict=True)
    )
    assert sum(m["turns"] for m in w["by_model"]) == 3

    # the same replay under the tier the turns were asked with changes nothing
    same = json.loads(kilo(["stats", "--what-if", "balanced", "--json"], env=env).stdout)
    assert same["what_if"]["changed_model"] == 0
    assert same["what_if"]["difference_usd"] == pytest.approx(0.0, abs=1e-9)

    text = kilo(["stats", "--what-if", "frontier"], env=env)
    assert text.returncode == 0, text.stderr.decode()
    out = text.stdout.decode()
    assert "What if these 3 turns had been routed under frontier" in out
    assert "more under frontier" in out
    assert "1 priced from the router's estimates (no usage recorded)" in out


def test_what_if_unknown_tier_is_one_line(kilo):
    proc = kilo(["stats", "--what-if", "cheapest"])
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        "error: --what-if: unknown tier 'cheapest'; choose one of "
        "frontier, balanced, free, auto-efficient\n"
    )
