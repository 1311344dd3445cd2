"""The views of a turn: the user's own words (the ask) and the material they pasted.

This module is the one home of "what is pasted material". Its two consumers read it at two
granularities, each keeping its own policy:

- By line (``is_material_line``, ``split_turn``, ``views``): the classifier's mix. Real requests
  paste first and ask last ("<80 lines of code> add type hints"), often without a code fence and
  with the code at column 0, so a line is judged on its own look: fenced, indented, a stack frame
  or log line, a file path header, or code by its keywords and punctuation. The ask is what is
  left, with a role preamble ("You are an expert Python developer.") dropped: it says who should
  answer, not what is asked. The classifier embeds the ask and a digest of the material apart and
  mixes them, so that a long paste cannot drown a one-line ask.
- By span (``pasted_spans``): the encoder's token fitting (kilocli/routing/encoder/fitting.py).
  Fenced blocks, and runs of at least three pasted-looking lines (traces, logs, diffs, code),
  are what gets cut first when a text is over the encoder's window.

The two readings differ: by line, each line is judged alone and code is recognised at column 0;
by span, a line counts only inside a run of three and diffs are followed. Making them one changes
the text the encoder sees for long turns: judging the spans with the line test moved 11 of 1,352
decisions of bench/route_quality.py's four sets, for the worse on the untuned one (difficulty
80.1% -> 79.5%, under-routing 4.7% -> 5.0%), so each reading is kept.
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


# ------------------------------------------------------------- spans, for token fitting

_FENCED = re.compile(r"(`{3,}|~{3,}).*?(?:\1|\Z)", re.S)
# A line that looks pasted rather than written: stack frames, log lines, compiler output, code.
_PASTED_LINE = re.compile(
    r"""^(?:
        Traceback\ \(most\ recent\ call\ last\)
      | \s+File\ ".*",\ line\ \d+
      | \s+at\ \S
      | \s*\#\d+\s+0x[0-9a-fA-F]
      | goroutine\ \d+\ \[ | thread\ '.*'\ panicked
      | \[?\d{4}-\d\d-\d\d[T\ ]\d\d:\d\d | \[?\d\d:\d\d:\d\d
      | \[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|PANIC)\b
      | [\w./\\-]+\.\w+:\d+(?::\d+)?:
      | [\w.]*(?:Error|Exception):
      | \t | \ {4,}\S
      | .*[;{}]\s*$
      | \s*[)\]}]
      | \s*(?://|/\*)
      | \s*(?:def|class|import|from\s+\S+\s+import|return|function|const|let|var|fn|func|pub
             |public|private|\#include|package|SELECT|INSERT|UPDATE|CREATE)\b
      | \s*[\w.\[\]]+\s*[-+*/]?=\s*\S
    )""",
    re.X,
)
_DIFF_HEAD = re.compile(r"^(?:diff --git |index [0-9a-f]+\.\.|--- \S|\+\+\+ \S|@@ )")
_DIFF_BODY = re.compile(r"^(?:[ +\-\\]|@@ |diff --git |index )")
_MIN_PASTED_RUN = 3  # fewer pasted-looking lines in a row are treated as prose


def pasted_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of fenced blocks and of runs of pasted-looking lines (logs, diffs...)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _FENCED.finditer(text):
        spans.extend(_line_runs(text, pos, m.start()))
        spans.append((m.start(), m.end()))
        pos = m.end()
    spans.extend(_line_runs(text, pos, len(text)))
    return spans


def _line_runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    run_start, run_end, count, in_diff = -1, -1, 0, False
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if _DIFF_HEAD.match(body):
            in_diff = True
        elif in_diff and not _DIFF_BODY.match(body):
            in_diff = False
        pasted = in_diff or bool(_PASTED_LINE.match(body))
        if pasted:
            if run_start < 0:
                run_start, count = pos, 0
            count += 1
            run_end = pos + len(line)
        elif body.strip() and run_start >= 0:  # blank lines do not end a run
            if count >= _MIN_PASTED_RUN:
                runs.append((run_start, run_end))
            run_start = -1
        pos += len(line)
    if run_start >= 0 and count >= _MIN_PASTED_RUN:
        runs.append((run_start, run_end))
    return runs
