"""`kilo ask`'s answer on stdout: raw when piped, live Markdown on a terminal."""

from __future__ import annotations

from typing import Any

from kilocli import output
from kilocli.terminal_text import terminal_safe


class AnswerSink:
    """Streams text to stdout: raw when piped or plain; live-rendered Markdown on a terminal."""

    def __init__(self, *, markdown: bool, buffered: bool) -> None:
        self.markdown = markdown
        self.buffered = buffered
        self.parts: list[str] = []
        self._live: Any = None
        if markdown and not buffered:
            from rich.live import Live
            from rich.markdown import Markdown

            self._markdown_cls = Markdown
            self._live = Live(
                Markdown(""),
                console=output.stdout(),
                refresh_per_second=8,
                vertical_overflow="visible",
            )
            self._live.start()

    def __call__(self, text: str) -> None:
        self.parts.append(text)
        if self._live is not None:
            self._live.update(self._markdown_cls(terminal_safe("".join(self.parts))))
        elif not self.buffered:
            output.write_answer(text)

    def close(self) -> None:
        answer = "".join(self.parts)
        if self._live is not None:
            self._live.stop()
        elif self.buffered and self.markdown:
            from rich.markdown import Markdown

            output.stdout().print(Markdown(terminal_safe(answer)))
        elif self.buffered:
            output.write_answer(answer)
        if answer and not answer.endswith("\n") and not self.markdown:
            output.write_answer("\n")
