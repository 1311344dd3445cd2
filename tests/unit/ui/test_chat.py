"""Chat renderings through an injected Console: streamed answer, status line, route change."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from kilocli.chat.spend import Spend
from kilocli.engine import TurnOutcome
from kilocli.routing.router import Candidate, Decision
from kilocli.ui.chat import AnswerStream, cost_table, route_change, status_line


def _console(*, terminal: bool = False) -> Console:
    return Console(
        file=io.StringIO(),
        width=80,
        height=24,
        color_system=None,
        force_terminal=terminal,
        emoji=False,
    )


def _text(console: Console) -> str:
    return console.file.getvalue()  # type: ignore[attr-defined]


def decision(model: str = "gpt-5-mini", **over: object) -> Decision:
    fields: dict[str, object] = {
        "task": "debug",
        "difficulty": "hard",
        "task_probs": {"debug": 0.8, "explain": 0.2},
        "difficulty_probs": {"hard": 0.7, "medium": 0.3},
        "margin": 0.6,
        "difficulty_margin": 0.4,
        "tier": "auto-efficient",
        "model": model,
        "provider": "openai",
        "estimated_cost_usd": 0.0021,
        "input_tokens": 1200,
        "expected_output_tokens": 900,
        "frontier_model": "claude-opus-4.5",
        "frontier_cost_usd": 0.03,
        "fallback_used": False,
        "candidates": [Candidate(model, "openai", 0.7, 0.6, True, 0.0021, "meets bar 0.60")],
        "reason": "cheapest model whose debug/hard skill meets the bar",
    }
    fields.update(over)
    return Decision(**fields)  # type: ignore[arg-type]


def outcome(d: Decision, **over: object) -> TurnOutcome:
    fields: dict[str, object] = {
        "turn_id": 1,
        "answer": "done",
        "status": "ok",
        "decision": d,
        "model": d.model,
        "provider": "openai",
        "input_tokens": 1234,
        "output_tokens": 56,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": 0.0012,
        "duration_ms": 2300,
        "error": None,
    }
    fields.update(over)
    return TurnOutcome(**fields)  # type: ignore[arg-type]


def test_plain_console_gets_the_raw_text_as_it_comes():
    con = _console()
    with AnswerStream(con, label="thinking") as stream:
        stream.feed("# Title\n")
        assert _text(con) == "# Title\n"
        stream.feed("some `code`")
    assert _text(con) == "# Title\nsome `code`\n"
    assert stream.text == "# Title\nsome `code`"


def test_markdown_is_rendered_on_a_terminal():
    con = _console(terminal=True)
    answer = "# Fix\n\nUse a **lock**:\n\n```python\nwith lock:\n    x += 1\n```\n"
    with AnswerStream(
        con, label="thinking", markdown=True, clock=iter(range(1000)).__next__
    ) as stream:
        for ch in answer:
            stream.feed(ch)
    # what ends on screen, after the live redraws
    pyte = pytest.importorskip("pyte")
    screen = pyte.Screen(80, 24)
    pyte.Stream(screen).feed(_text(con).replace("\n", "\r\n"))
    shown = "\n".join(line.rstrip() for line in screen.display).strip("\n")
    assert "with lock:" in shown
    assert "Use a lock:" in shown
    assert "```" not in shown
    assert "**" not in shown
    assert shown.count("Fix") == 1


def test_a_long_answer_scrolls_instead_of_repainting_everything():
    """Lines above the live tail are printed once: output grows linearly with the answer."""
    con = _console(terminal=True)
    lines = [f"line {i:03d} of a long streamed answer" for i in range(300)]
    with AnswerStream(
        con, label="t", markdown=True, tail_lines=4, clock=iter(range(10_000)).__next__
    ) as s:
        for line in lines:
            s.feed(line + "\n\n")
    out = _text(con)
    for line in (lines[0], lines[150], lines[-1]):
        assert line in out
    # a full repaint per chunk would write ~300*150 lines; the tail keeps it near 300*(4+1)
    assert out.count("line 150 of") <= 6
    assert len(out) < 300 * 40 * 8


def test_status_line_says_model_buckets_tokens_costs_and_time():
    spend = Spend()
    spend.add("gpt-5-mini", 0.0012, 0.02)
    spend.add("gpt-5-mini", 0.0030, 0.05)
    line = status_line(outcome(decision()), spend).plain
    assert line == (
        "gpt-5-mini via openai · debug/hard · 1,234 in / 56 out · turn $0.0012 · "
        "session $0.0042 · 2.3 s"
    )


def test_status_line_marks_an_incomplete_turn_and_unpriced_cost():
    spend = Spend()
    spend.add("local", None, None)
    line = status_line(outcome(decision("local"), status="incomplete", cost_usd=None), spend).plain
    assert line.startswith("incomplete · local via openai")
    assert "turn unpriced" in line
    assert "session unpriced" in line


def test_route_change_says_why():
    first, second = (
        decision("gpt-5-mini"),
        decision("claude-sonnet-4.5", reason="hard debug needs skill"),
    )
    assert route_change(None, first) is None
    assert route_change(first, decision("gpt-5-mini")) is None
    text = route_change(first, second)
    assert text is not None
    assert text.plain == "route: gpt-5-mini → claude-sonnet-4.5: hard debug needs skill"


def test_cost_table_shows_models_total_and_saving():
    spend = Spend()
    spend.add("gpt-5-mini", 0.01, 0.10)
    spend.add("claude-sonnet-4.5", 0.05, 0.20)
    spend.add("gpt-5-mini", 0.01, 0.10)
    con = _console()
    con.print(cost_table(spend))
    out = _text(con)
    assert "gpt-5-mini" in out
    assert "claude-sonnet-4.5" in out
    assert "saved $0.33 vs frontier" in out
    assert spend.total is not None
    assert round(spend.total, 6) == 0.07
