"""Model and user text is made terminal-safe: controls become visible, newlines and tabs are kept
(the commands that show it: tests/e2e/cli/test_terminal_text.py)."""

from __future__ import annotations

from kilocli.terminal_text import terminal_safe


def test_controls_are_made_visible_and_newlines_and_tabs_kept():
    assert terminal_safe("plain text\n\tindented") == "plain text\n\tindented"
    assert terminal_safe("a\x1b[2Jb") == "a\u241b[2Jb"
    assert terminal_safe("x\x07y\x00z\x7f") == "x\u2407y\u2400z\u2421"
    assert terminal_safe("one\r\ntwo\rthree") == "one\ntwo\u240dthree"
    assert terminal_safe("csi\x9b31m") == "csi<U+009B>31m"
    assert terminal_safe("naïve — ünïcode ✓") == "naïve — ünïcode ✓"
