"""What the chat shows: the chat session reports turns, notes and transcripts here, and this
view renders them with Rich (the answer on ``out``, everything else on ``err``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.text import Text

from kilocli.terminal_text import terminal_safe
from kilocli.ui.chat import CODE_THEME, AnswerStream, route_change, status_line

if TYPE_CHECKING:
    from kilocli.chat.spend import Spend
    from kilocli.routing.router import Decision


class ChatView:
    def __init__(self, out: Console, err: Console) -> None:
        self.out = out
        self.err = err

    def print(self, renderable: RenderableType) -> None:
        """A table or line of a slash command (stderr: the answers alone go to stdout)."""
        self.err.print(renderable)

    def note(self, message: str) -> None:
        self.err.print(message, markup=False, highlight=False, style="dim")

    def error(self, message: str, *, internal: bool = False) -> None:
        self.err.print(Text(message, style="bold red" if internal else "red"))

    def wait_for(self, done: Callable[[float], bool], notes: Sequence[str], what: str) -> None:
        """A spinner until ``done(timeout)`` says so, naming the latest note (why it is slow)."""
        with self.err.status(f"{what}…", spinner="dots") as status:
            while not done(0.1):
                if notes:  # e.g. the one-time encoder export: say why it takes a while
                    status.update(f"{what}: {notes[-1]}")

    # -- a turn --------------------------------------------------------------------------------
    def route_changed(self, previous: Decision | None, current: Decision) -> None:
        change = route_change(previous, current)
        if change is not None:
            self.err.print(change)

    def answer(self, model: str) -> AnswerStream:
        return AnswerStream(self.out, label=f"{model} is thinking…")

    def notice(self, stream: AnswerStream, message: str) -> None:
        """Retrying, falling back, clamping: above the answer being streamed."""
        stream.note(Text(message, style="yellow"), self.err)

    def stopped(self, chars: int, seconds: float) -> None:
        kept = f"kept {chars:,} characters" if chars else "nothing had arrived"
        self.err.print(Text(f"stopped · {kept} · {seconds:.1f} s", style="yellow"))

    def failed(self, outcome: Any) -> None:
        """An error or a cut answer (an interrupted one is reported by stopped())."""
        if outcome.status == "error":
            self.err.print(Text(f"error: {outcome.error or 'the call failed'}", style="bold red"))
        elif outcome.status == "incomplete":
            kept = f"; kept {len(outcome.answer):,} characters" if outcome.answer else ""
            self.err.print(Text(f"incomplete: {outcome.error}{kept}", style="yellow"))

    def status(self, outcome: Any, spend: Spend) -> None:
        self.err.print(status_line(outcome, spend))

    # -- a resumed session -----------------------------------------------------------------------
    def session_header(self, session_id: str, turns: int) -> None:
        self.err.print(Text(f"session {session_id} · {turns} turns", style="bold"))

    def past_turn(self, turn: Any) -> None:
        """A stored turn (kilocli.store.TurnRecord): the prompt, the answer, how it ended."""
        self.err.print(Text("› " + turn.prompt, style="bold cyan"))
        if turn.answer:
            if self.out.is_terminal:
                from rich.markdown import Markdown

                self.out.print(Markdown(terminal_safe(turn.answer), code_theme=CODE_THEME))
            else:
                self.out.print(turn.answer, markup=False, highlight=False)
        if turn.status != "ok":
            self.err.print(
                Text(f"({turn.status}{': ' + turn.error if turn.error else ''})", style="yellow")
            )
