"""The views of a turn: the user's own words (the ask) and the material they pasted.

Real requests paste first and ask last ("<80 lines of code> add type hints"), often without a code
fence and with the code at column 0, so a line is judged on its own look: fenced, indented, a stack
frame or log line, a file path header, or code by its keywords and punctuation. The ask is what
is left, with a role preamble ("You are an expert Python developer.") dropped: it says who should
answer, not what is asked. The classifier embeds the ask and a digest of the material apart and
mixes them, so that a long paste cannot drown a one-line ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^\s*(```|~~~)")
# Pasted material by its start: indentation, stack frames, log and trace lines.
_PASTED = re.compile(
    r"^(\t| {2,}\S)|^\s*(at |File \"|#\d+ |Traceback |goroutine \d+|\d+ \| |\[\d|"
    r"\d{4}-\d\d-\d\d[ T])"
)
# Column-0 code: statements and declarations of common languages, markup, comments, prompts.
_CODE_START = re.compile(
    r"^(import |from \S+ import |def |class |function |const |let |var |return\b|if \(|for \(|"
    r"while \(|#include|#!|public |private |protected |package |using |func |fn |impl |struct |"
    r"SELECT |INSERT |UPDATE |CREATE |<[/!?a-zA-Z]|@\w+|\$ |>>> |[\w.\[\]'\"]+\s*[+\-*/]?=\s*\S|"
    r"[\w.]+\(.*\)\s*;?$|[}\])]|//|/\*|\*/|-- |[\w-]+:\s*$|[\w-]+:\s+\S+$)"
)
_CODE_END = re.compile(r"([{};(\[]|=>|\):?)\s*$")
_ERROR_LINE = re.compile(r"^\s*[\w.]*(Error|Exception|Warning)\b.*:|^\s*(ERROR|WARN|FATAL|E/|W/)\b")
_PATH_HEADER = re.compile(r"^\s*#*\s*[\w./-]+\.[A-Za-z]{1,5}\s*:?\s*$")
# A short Markdown heading ("# Working set", "## Files") frames pasted material, not the ask.
_HEADING = re.compile(r"^#{1,6} \S.{0,40}$")
_WORD = re.compile(r"[A-Za-z]{2,}")
_PREAMBLE = re.compile(
    r"^\s*(you are|you're|act as|i want you to act as|pretend (that )?you are|as an? "
    r"(expert|senior|experienced|professional))\b[^.!?\n]*[.!?]?\s*",
    re.IGNORECASE,
)
PROSE_HEAD, PROSE_TAIL = 600, 300  # characters of the ask kept from its start and its end
BLOCK_HEAD, BLOCK_TAIL = 6, 3  # lines kept from the start and the end of each pasted block
MAX_BLOCKS = 3


def is_material_line(line: str) -> bool:
    """Does this unfenced line look pasted (code, a trace, a log, a file header), not typed?"""
    if _PASTED.match(line):
        return True
    s = line.strip()
    if not s:
        return False
    if _ERROR_LINE.match(s) or _PATH_HEADER.match(s) or _HEADING.match(s):
        return True
    words = len(_WORD.findall(s))
    symbols = sum(not (ch.isalnum() or ch.isspace()) for ch in s)
    if _CODE_START.match(s) and (symbols >= 2 or words <= 6):
        return True
    if _CODE_END.search(s) and symbols / len(s) > 0.06:
        return True
    return symbols / len(s) > 0.25 and words < 8


@dataclass(frozen=True)
class TurnShape:
    prose: str  # the user's own words, one line (a role preamble dropped)
    blocks: tuple[tuple[str, ...], ...]  # pasted blocks (fenced or detected), as stripped lines

    @property
    def pasted_lines(self) -> int:
        return sum(len(b) for b in self.blocks)


def split_turn(text: str) -> TurnShape:
    """Separate the user's words from what they pasted."""
    paragraphs: list[list[str]] = []
    words: list[str] = []
    blocks: list[list[str]] = []
    block: list[str] | None = None  # the block being collected
    fenced = False

    def end_paragraph() -> None:
        nonlocal words
        if words:
            paragraphs.append(words)
            words = []

    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            block = [] if fenced else None
            if block is not None:
                blocks.append(block)
            end_paragraph()
        elif fenced or is_material_line(line):
            if block is None:
                block = []
                blocks.append(block)
            if line.strip():
                block.append(line.strip())
            end_paragraph()
        elif not line.strip():
            end_paragraph()
        else:
            block = None
            words.append(line.strip())
    end_paragraph()
    prose = [" ".join(p) for p in paragraphs]
    if prose:
        prose[0] = _PREAMBLE.sub("", prose[0], count=1).strip()
    return TurnShape(" ".join(p for p in prose if p), tuple(tuple(b) for b in blocks if b))


def views(text: str) -> tuple[str, str]:
    """(the ask, a digest of the pasted material); either may be "".

    The digest keeps the head and tail of the first blocks: what the material is, not all of it.
    """
    shape = split_turn(text)
    if not shape.blocks:
        prose = shape.prose or text.strip()
        return _clip(prose), ""
    digest = []
    for block in shape.blocks[:MAX_BLOCKS]:
        if len(block) > BLOCK_HEAD + BLOCK_TAIL:
            block = block[:BLOCK_HEAD] + block[-BLOCK_TAIL:]
        digest.append("\n".join(block))
    return _clip(shape.prose), "\n".join(digest)


def _clip(prose: str) -> str:
    if len(prose) <= PROSE_HEAD + PROSE_TAIL:
        return prose
    return f"{prose[:PROSE_HEAD]} … {prose[-PROSE_TAIL:]}"
