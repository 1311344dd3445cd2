"""What a chat sends with each turn: the transcript so far and the files added with /add.

Token counts are cached per message and per file, so the toolbar preview can price a turn on every
typing pause without recounting the whole transcript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kilocli.attachments import AttachmentProblem, file_block, read_attachment
from kilocli.errors import UsageError
from kilocli.providers.base import Message
from kilocli.routing.cost import count_tokens


@dataclass
class _Entry:
    message: Message
    tokens: int


@dataclass
class Conversation:
    """The session's messages (user/assistant pairs) and the files in context."""

    _entries: list[_Entry] = field(default_factory=list)
    _files: dict[str, tuple[str, int]] = field(
        default_factory=dict
    )  # display path -> (text, tokens)

    # -- messages ------------------------------------------------------------------------------
    @property
    def messages(self) -> list[Message]:
        return [e.message for e in self._entries]

    def user_turns(self) -> list[str]:
        return [e.message.content for e in self._entries if e.message.role == "user"]

    def add_exchange(self, prompt: str, answer: str) -> None:
        self._entries.append(_Entry(Message("user", prompt), count_tokens(prompt)))
        self._entries.append(_Entry(Message("assistant", answer), count_tokens(answer)))

    def pop_exchange(self) -> tuple[str, str] | None:
        """Remove the last user/assistant pair (for /retry); None when there is none."""
        if len(self._entries) < 2:
            return None
        answer = self._entries.pop().message.content
        prompt = self._entries.pop().message.content
        return prompt, answer

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries) // 2

    def history_tokens(self) -> int:
        return sum(e.tokens for e in self._entries)

    # -- files ---------------------------------------------------------------------------------
    @property
    def files(self) -> dict[str, str]:
        return {name: text for name, (text, _) in self._files.items()}

    def system_text(self, base: str | None) -> str | None:
        """The system prompt sent with a turn: the user's own, then every file in context.

        Files travel in the system prompt rather than in a message so the transcript stays small,
        every turn sees their current set, and the prefix a provider caches stays stable.
        """
        if not self._files:
            return base
        blocks = [file_block(name, text) for name, (text, _) in self._files.items()]
        head = "Files the user added to this conversation:"
        return "\n\n".join([*([base] if base else []), head, *blocks])

    def system_blocks(self, base: str | None) -> tuple[str, ...]:
        """``system_text`` in its two stable pieces: the user's prompt, then the files (each
        becomes a prompt-cache breakpoint, so changing the files keeps the prompt cached)."""
        whole = self.system_text(base)
        if not whole:
            return ()
        if not base or whole == base:
            return (whole,)
        return (base, whole[len(base) :].lstrip("\n"))

    def file_tokens(self) -> dict[str, int]:
        return {name: tokens for name, (_, tokens) in self._files.items()}

    def add_file(self, raw: str, cwd: Path) -> tuple[str, int]:
        """Read a text file into context -> (display name, tokens); one-line UsageError if not
        (the checks and the cap of `kilo ask -f`: kilocli/attachments.py)."""
        path = (cwd / Path(raw).expanduser()).resolve()
        name = _display(path, cwd)
        try:
            text = read_attachment(path)
        except AttachmentProblem as problem:
            raise UsageError(_add_error(raw, problem)) from None
        tokens = count_tokens(text)
        self._files[name] = (text, tokens)
        return name, tokens

    def drop_file(self, raw: str, cwd: Path) -> str:
        """Remove a file from context by the name /add showed or by its path; returns its name."""
        if raw in self._files:
            del self._files[raw]
            return raw
        name = _display((cwd / Path(raw).expanduser()).resolve(), cwd)
        if name not in self._files:
            raise UsageError(f"{raw}: not in context (see /add)")
        del self._files[name]
        return name

    def drop_all_files(self) -> int:
        count = len(self._files)
        self._files.clear()
        return count

    # -- sizing --------------------------------------------------------------------------------
    def input_tokens(
        self, prompt: str, system: str | None = None, *, prompt_tokens: int | None = None
    ) -> int:
        """Tokens of everything a turn sends: system + files + history + the new prompt."""
        fixed = sum(t for _, t in self._files.values()) + (count_tokens(system) if system else 0)
        turn = count_tokens(prompt) if prompt_tokens is None else prompt_tokens
        return fixed + self.history_tokens() + turn

    def cached_prefix_tokens(self, system: str | None = None) -> int:
        """Tokens a provider likely cached from the previous turn: all before the new prompt."""
        if not self._entries:
            return 0
        return self.input_tokens("", system, prompt_tokens=0)

    def trim_to(self, budget: int, prompt: str, system: str | None = None) -> int:
        """Drop the oldest exchanges until the turn fits ``budget`` tokens; returns how many went.

        The newest prompt and the files always stay: if they alone exceed the budget the provider
        will say so, which is clearer than silently cutting what the user just asked for.
        """
        dropped = 0
        prompt_tokens = count_tokens(prompt)
        while (
            len(self._entries) >= 2
            and self.input_tokens(prompt, system, prompt_tokens=prompt_tokens) > budget
        ):
            del self._entries[:2]
            dropped += 1
        return dropped


def _add_error(raw: str, problem: AttachmentProblem) -> str:
    """The one-line error of /add, naming the path as typed (the wording /add always had)."""
    return {
        "missing": f"{raw}: no such file",
        "unreadable": f"{raw}: cannot read: {problem.detail}",
        "directory": f"{raw}: is a directory (add the files inside it)",
        "special": f"{raw}: is {problem.detail}, not a regular file; not added",
        "too_big": f"{raw}: is over {problem.detail}, not added",
        "binary": f"{raw}: binary file, not added",
        "not_utf8": f"{raw}: not UTF-8 text (binary?), not added",
    }[problem.kind]


def _display(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd.resolve()))
    except ValueError:
        return str(path)
