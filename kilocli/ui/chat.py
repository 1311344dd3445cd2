"""Rich renderings for the chat: the streamed answer, the status line after it, the tables."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from kilocli.chat.spend import Spend
from kilocli.routing.cost import format_usd
from kilocli.routing.router import Decision
from kilocli.terminal_text import terminal_safe

if TYPE_CHECKING:
    from kilocli.chat.slash import SlashCommand

CODE_THEME = "monokai"


class AnswerStream:
    """Streams an answer: Markdown re-rendered as it grows, with the tail in a Live region.

    Lines that have left the tail are printed once above it and never redrawn, so a long answer
    scrolls like normal output instead of repainting the screen. On a plain console (not a TTY,
    NO_COLOR) the raw text is written as it comes: pipes and logs get exactly what the model said.
    """

    def __init__(
        self,
        console: Console,
        *,
        label: str,
        markdown: bool | None = None,
        tail_lines: int | None = None,
        min_interval: float = 0.08,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.label = label
        self.markdown = (
            console.is_terminal and console.color_system is not None
            if markdown is None
            else markdown
        )
        self.tail_lines = tail_lines or max(4, min(12, console.height // 2))
        self.min_interval = min_interval
        self._clock = clock
        self.text = ""
        self._committed = 0  # rendered lines already printed above the live tail
        self._last_render = 0.0
        self._render_cost = 0.0
        self._live: Live | None = None

    def __enter__(self) -> AnswerStream:
        if self.markdown:
            self._live = Live(
                Spinner("dots", text=Text(self.label, style="dim")),
                console=self.console,
                refresh_per_second=10,
                transient=False,
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def note(self, text: Text, fallback: Console) -> None:
        """A notice during the answer (retrying, falling back): above the live region if any.

        Printing it on another console while the Live region is drawn would tear the screen.
        """
        if self._live is not None:
            self._live.console.print(text)
        else:
            fallback.print(text)

    def feed(self, chunk: str) -> None:
        if not chunk:
            return
        self.text += chunk
        if not self.markdown:
            self.console.file.write(chunk)
            self.console.file.flush()
            return
        now = self._clock()
        # re-rendering costs grow with the answer: never spend more than ~1/4 of the time on it
        if now - self._last_render >= max(self.min_interval, 4 * self._render_cost):
            self._render(final=False)

    def finish(self) -> None:
        """Render the whole answer for good; safe to call twice."""
        if not self.markdown:
            if self.text and not self.text.endswith("\n"):
                self.console.file.write("\n")
                self.console.file.flush()
            return
        if self._live is None:
            return
        if self.text:
            self._render(final=True)
        else:
            self._live.update(Text(""))
        self._live.stop()
        self._live = None

    def _render(self, *, final: bool) -> None:
        assert self._live is not None
        started = self._clock()
        lines = render_markdown_lines(self.text, self.console)
        stable = len(lines) if final else max(self._committed, len(lines) - self.tail_lines)
        if stable > self._committed:
            self._live.console.print(Text.from_ansi("\n".join(lines[self._committed : stable])))
            self._committed = stable
        self._live.update(Text.from_ansi("\n".join(lines[self._committed :])), refresh=True)
        self._last_render = self._clock()
        self._render_cost = self._last_render - started


def render_markdown_lines(text: str, console: Console) -> list[str]:
    """Markdown (code highlighted) rendered at the console's width, as ANSI lines."""
    from rich.markdown import Markdown  # markdown-it costs ~0.1 s: not on the start-up path

    buf = io.StringIO()
    scratch = Console(
        file=buf,
        width=console.width,
        color_system=console.color_system or "standard",
        force_terminal=True,
        emoji=False,
        highlight=False,
    )
    scratch.print(Markdown(terminal_safe(text), code_theme=CODE_THEME))
    return buf.getvalue().rstrip("\n").split("\n")


# -- one-liners ----------------------------------------------------------------------------------
def format_seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def status_line(outcome: Any, spend: Spend) -> Text:
    """After an answer: model, task/difficulty, tokens, turn cost, session total, seconds."""
    d: Decision = outcome.decision
    style = {"ok": "dim", "incomplete": "yellow", "interrupted": "yellow", "error": "red"}.get(
        outcome.status, "dim"
    )
    parts = [
        outcome.model + (f" via {outcome.provider}" if outcome.provider else ""),
        f"{d.task}/{d.difficulty}",
        f"{outcome.input_tokens:,} in / {outcome.output_tokens:,} out",
        f"turn {format_usd(outcome.cost_usd)}",
        f"session {spend_total(spend)}",
        format_seconds(outcome.duration_ms),
    ]
    if outcome.status != "ok":
        parts.insert(0, outcome.status)
    return Text(" · ".join(parts), style=style)


def spend_total(spend: Spend) -> str:
    total = format_usd(spend.total)
    return total + (
        f" (+{spend.unpriced} unpriced)" if spend.unpriced and spend.total is not None else ""
    )


def saving_text(spend: Spend) -> str | None:
    saving = spend.saving
    if saving is None or spend.frontier_total is None:
        return None
    if saving <= 0:
        return "no saving vs frontier"
    return f"saved {format_usd(saving)} vs frontier"


def route_change(previous: Decision | None, current: Decision) -> Text | None:
    """One line when this turn goes to a different model than the last one did, saying why."""
    if previous is None or previous.model == current.model:
        return None
    return Text(f"route: {previous.model} → {current.model}: {current.reason}", style="cyan")


# -- tables --------------------------------------------------------------------------------------
def help_table(commands: Iterable[SlashCommand[Any]]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("command", style="bold")
    table.add_column("help")
    for cmd in commands:
        aliases = f" (also {', '.join('/' + a for a in cmd.aliases)})" if cmd.aliases else ""
        table.add_row(cmd.synopsis, cmd.help + aliases)
    table.add_row("", "")
    table.add_row("keys", "Enter sends · Alt+Enter or Esc Enter: new line · Tab completes")
    table.add_row("", "Ctrl-C clears the line or stops an answer · Ctrl-D exits")
    return table


def cost_table(spend: Spend) -> Table:
    table = Table(title="this session's spend", title_justify="left")
    table.add_column("model")
    table.add_column("turns", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("frontier would cost", justify="right")
    for model, row in spend.by_model().items():
        table.add_row(model, str(row.turns), format_usd(row.cost), format_usd(row.frontier))
    table.add_section()
    table.add_row(
        Text("total", style="bold"),
        str(spend.turns),
        spend_total(spend),
        format_usd(spend.frontier_total),
    )
    saving = saving_text(spend)
    if saving:
        table.caption = saving
    return table


def sessions_table(sessions: Sequence[Any], current: str | None) -> Table:
    """Recent sessions (kilocli.store.SessionSummary): id, when, turns, cost, title."""
    table = Table(title="recent sessions (kilo chat --resume ID)", title_justify="left")
    table.add_column("id")
    table.add_column("kind")
    table.add_column("last used")
    table.add_column("turns", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("title")
    for s in sessions:
        cost = format_usd(s.cost_usd) + (
            f" +{s.unpriced_turns} unpriced" if s.unpriced_turns else ""
        )
        table.add_row(
            ("→ " if s.id == current else "") + s.id,
            s.kind,
            s.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            str(s.turns),
            cost,
            _one_line(s.title or "", 40),
        )
    return table


def _one_line(text: str, width: int) -> str:
    flat = " ".join(terminal_safe(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
