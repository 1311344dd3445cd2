"""Slash commands as declarative objects, and the registry that parses, completes and suggests them.

A command is data (name, aliases, usage, help, argument completer) plus one handler; the REPL never
special-cases a command by name.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kilocli.errors import UsageError

S = TypeVar("S")  # the state a handler acts on (the chat session)

Handler = Callable[[S, list[str]], None]
# (state, words before the one being typed, the word being typed) -> candidate completions
ArgCompleter = Callable[[S, list[str], str], Iterable[str]]


@dataclass(frozen=True)
class SlashCommand(Generic[S]):
    name: str
    help: str
    handler: Handler[S]
    aliases: tuple[str, ...] = ()
    usage: str = ""  # argument synopsis shown by /help, e.g. "NAME" or "[--up]"
    complete: ArgCompleter[S] | None = None

    @property
    def synopsis(self) -> str:
        return f"/{self.name}" + (f" {self.usage}" if self.usage else "")


def is_slash(line: str) -> bool:
    """'/' followed by a name is a command; a path ('/usr/bin is slow') is not."""
    if not line.startswith("/") or len(line) < 2:
        return False
    first = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
    return bool(first) and "/" not in first


def split_args(text: str) -> list[str]:
    """Shell-like words, so paths with spaces can be quoted; an unclosed quote is a usage error."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot parse arguments: {exc}") from None


class SlashRegistry(Generic[S]):
    def __init__(self, commands: Sequence[SlashCommand[S]] = ()) -> None:
        self._commands: list[SlashCommand[S]] = []
        self._by_name: dict[str, SlashCommand[S]] = {}
        for cmd in commands:
            self.register(cmd)

    def register(self, cmd: SlashCommand[S]) -> None:
        for key in (cmd.name, *cmd.aliases):
            if key in self._by_name:
                raise ValueError(f"slash command name /{key} registered twice")
            self._by_name[key] = cmd
        self._commands.append(cmd)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._commands)

    def names(self) -> list[str]:
        """Every name and alias, without the slash."""
        return sorted(self._by_name)

    def lookup(self, name: str) -> SlashCommand[S] | None:
        return self._by_name.get(name)

    def closest(self, name: str) -> str | None:
        """The nearest known name, for 'did you mean'; a unique prefix counts as nearest."""
        prefixed = sorted({c.name for c in self._commands if c.name.startswith(name)})
        if len(prefixed) == 1:
            return prefixed[0]
        match = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.5)
        return match[0] if match else (prefixed[0] if prefixed else None)

    def parse(self, line: str) -> tuple[SlashCommand[S], list[str]]:
        """'/name args...' -> (command, args); an unknown name: one line with the closest match."""
        body = line[1:].strip()
        name, _, rest = body.partition(" ")
        cmd = self.lookup(name)
        if cmd is None:
            hint = self.closest(name)
            suggestion = f"; did you mean /{hint}?" if hint else ""
            raise UsageError(f"unknown command /{name}{suggestion} (/help lists them)")
        return cmd, split_args(rest)

    def dispatch(self, state: S, line: str) -> SlashCommand[S]:
        cmd, args = self.parse(line)
        cmd.handler(state, args)
        return cmd

    def completions(self, state: S, text: str) -> list[tuple[str, int]]:
        """Completions for the text before the cursor: (replacement, start offset from cursor)."""
        if not text.startswith("/"):
            return []
        body = text[1:]
        if " " not in body:
            return [("/" + n, -len(text)) for n in self.names() if n.startswith(body)]
        name, _, rest = body.partition(" ")
        cmd = self.lookup(name)
        if cmd is None or cmd.complete is None:
            return []
        words = rest.split(" ")
        current = words[-1]
        before = [w for w in words[:-1] if w]
        return [(c, -len(current)) for c in cmd.complete(state, before, current)]
