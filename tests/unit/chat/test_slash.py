"""The slash registry: parsing, dispatch, closest-match suggestions, argument completion."""

from __future__ import annotations

import pytest

from kilocli.chat.slash import SlashCommand, SlashRegistry, is_slash, split_args
from kilocli.errors import UsageError


class State:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []


def _record(name: str):
    def handler(state: State, args: list[str]) -> None:
        state.calls.append((name, args))

    return handler


def _registry() -> SlashRegistry[State]:
    return SlashRegistry(
        [
            SlashCommand("help", "list commands", _record("help"), aliases=("?",)),
            SlashCommand(
                "tier",
                "switch tier",
                _record("tier"),
                usage="NAME",
                complete=lambda s, before, word: [
                    t for t in ("frontier", "free", "balanced") if t.startswith(word)
                ],
            ),
            SlashCommand("retry", "ask again", _record("retry"), usage="[--up]"),
            SlashCommand("exit", "leave", _record("exit"), aliases=("quit", "q")),
        ]
    )


def test_dispatch_passes_shell_like_args():
    reg, state = _registry(), State()
    cmd = reg.dispatch(state, '/tier "auto efficient"')
    assert cmd.name == "tier"
    assert state.calls == [("tier", ["auto efficient"])]


def test_alias_reaches_the_same_command():
    reg, state = _registry(), State()
    reg.dispatch(state, "/quit")
    reg.dispatch(state, "/?")
    assert state.calls == [("exit", []), ("help", [])]


def test_unknown_command_names_the_closest_match():
    reg = _registry()
    with pytest.raises(UsageError) as exc:
        reg.parse("/tire balanced")
    assert str(exc.value) == "unknown command /tire; did you mean /tier? (/help lists them)"


def test_unknown_command_without_any_near_name():
    with pytest.raises(UsageError) as exc:
        _registry().parse("/zzzzzz")
    assert str(exc.value) == "unknown command /zzzzzz (/help lists them)"


def test_unique_prefix_is_the_closest_match():
    assert _registry().closest("ret") == "retry"


def test_duplicate_names_are_refused():
    reg = _registry()
    with pytest.raises(ValueError, match="/q registered twice"):
        reg.register(SlashCommand("q", "again", _record("q")))


def test_unclosed_quote_is_a_usage_error():
    with pytest.raises(UsageError, match="cannot parse arguments"):
        split_args('"open')


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/help", True),
        ("/tier free", True),
        ("/usr/bin/env is slow", False),
        ("/", False),
        ("hi /x", False),
    ],
)
def test_is_slash(line, expected):
    assert is_slash(line) is expected


def test_completes_command_names_from_the_slash():
    reg = _registry()
    assert reg.completions(State(), "/t") == [("/tier", -2)]
    assert [c for c, _ in reg.completions(State(), "/")] == [
        "/?",
        "/exit",
        "/help",
        "/q",
        "/quit",
        "/retry",
        "/tier",
    ]


def test_completes_arguments_with_the_commands_completer():
    reg = _registry()
    assert reg.completions(State(), "/tier f") == [("frontier", -1), ("free", -1)]
    assert reg.completions(State(), "/tier ") == [("frontier", 0), ("free", 0), ("balanced", 0)]
    # no completer -> nothing; plain text -> nothing
    assert reg.completions(State(), "/retry --") == []
    assert reg.completions(State(), "tier f") == []
