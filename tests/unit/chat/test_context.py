"""The chat's context: files added and refused, token sizing, trimming, and session spend."""

from __future__ import annotations

from pathlib import Path

import pytest

from kilocli.chat.context import Conversation
from kilocli.chat.spend import Spend
from kilocli.errors import UsageError


def test_add_text_file_counts_its_tokens(tmp_path: Path):
    (tmp_path / "app.py").write_text("def parse(x):\n    return int(x)\n")
    conv = Conversation()
    name, tokens = conv.add_file("app.py", tmp_path)
    assert name == "app.py"
    assert tokens > 5
    assert conv.files == {"app.py": "def parse(x):\n    return int(x)\n"}
    assert conv.input_tokens("hi") > tokens


def test_missing_file_is_refused_in_one_line(tmp_path: Path):
    with pytest.raises(UsageError) as exc:
        Conversation().add_file("nope.py", tmp_path)
    assert str(exc.value) == "nope.py: no such file"


def test_binary_file_is_refused(tmp_path: Path):
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UsageError) as exc:
        Conversation().add_file("logo.png", tmp_path)
    assert str(exc.value) == "logo.png: binary file, not added"


def test_non_utf8_file_is_refused(tmp_path: Path):
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UsageError, match=r"latin\.txt: not UTF-8 text"):
        Conversation().add_file("latin.txt", tmp_path)


def test_directory_is_refused(tmp_path: Path):
    (tmp_path / "src").mkdir()
    with pytest.raises(UsageError, match="src: is a directory"):
        Conversation().add_file("src", tmp_path)


def test_drop_by_name_or_path(tmp_path: Path):
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "b.py").write_text("b = 2\n")
    conv = Conversation()
    conv.add_file("a.py", tmp_path)
    conv.add_file(str(tmp_path / "b.py"), tmp_path)
    assert conv.drop_file("a.py", tmp_path) == "a.py"
    assert conv.drop_file("./b.py", tmp_path) == "b.py"
    assert conv.files == {}
    with pytest.raises(UsageError, match=r"a\.py: not in context"):
        conv.drop_file("a.py", tmp_path)


def test_files_travel_in_the_system_prompt(tmp_path: Path):
    (tmp_path / "a.py").write_text("a = 1\n")
    conv = Conversation()
    assert conv.system_text("be brief") == "be brief"
    conv.add_file("a.py", tmp_path)
    system = conv.system_text("be brief")
    assert system is not None
    assert system.startswith("be brief\n\n")
    assert '<file path="a.py">\na = 1\n</file>' in system


def test_trim_drops_oldest_exchanges_until_the_turn_fits():
    conv = Conversation()
    for i in range(10):
        conv.add_exchange(f"question {i} " + "word " * 50, f"answer {i} " + "word " * 50)
    full = conv.input_tokens("last question")
    budget = full // 2
    dropped = conv.trim_to(budget, "last question")
    assert dropped >= 5
    assert conv.input_tokens("last question") <= budget
    assert conv.user_turns()[0].startswith(f"question {dropped} ")
    assert len(conv) == 10 - dropped


def test_pop_exchange_for_retry():
    conv = Conversation()
    assert conv.pop_exchange() is None
    conv.add_exchange("q1", "a1")
    conv.add_exchange("q2", "a2")
    assert conv.pop_exchange() == ("q2", "a2")
    assert conv.user_turns() == ["q1"]


def test_cached_prefix_is_everything_before_the_new_prompt():
    conv = Conversation()
    assert conv.cached_prefix_tokens() == 0
    conv.add_exchange("q1 " * 20, "a1 " * 20)
    assert conv.cached_prefix_tokens() == conv.history_tokens()


def test_spend_keeps_unpriced_turns_apart():
    spend = Spend()
    spend.add("free-model", None, 0.02)
    assert spend.total is None
    assert spend.unpriced == 1
    assert spend.saving is None  # nothing comparable yet
    spend.add("gpt-5-mini", 0.01, 0.05)
    assert spend.total == pytest.approx(0.01)
    assert spend.saving == pytest.approx(0.04)
    assert spend.by_model()["free-model"].cost is None
    assert spend.by_model()["free-model"].frontier == pytest.approx(0.02)


def test_a_frontier_figure_added_later_counts_in_the_saving():
    spend = Spend()
    spend.add("gpt-5-mini", 0.01, None)  # a resumed turn, compared once prices are loaded
    assert spend.saving is None
    spend.add_frontier("gpt-5-mini", 0.01, 0.05)
    assert spend.saving == pytest.approx(0.04)
    assert spend.turns == 1
    assert spend.by_model()["gpt-5-mini"].frontier == pytest.approx(0.05)
