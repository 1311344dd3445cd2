"""User words -> a safe SQLite FTS5 query, and FTS5 snippets -> text with highlight offsets.

By default every word is quoted, so nothing the user types can be an FTS5 syntax error (``AND``,
``-``, ``"`` or ``:`` are just text); a trailing ``*`` keeps its prefix meaning. ``raw=True``
passes FTS5 syntax through (OR, NEAR, column filters) and the caller reports its errors.
"""

from __future__ import annotations

from kilocli.errors import UsageError

# Private-use characters wrap the matches in snippets: they never appear in a prompt in practice,
# and unlike ASCII brackets they cannot be confused with the stored text.
MATCH_START = "\ue000"
MATCH_END = "\ue001"


def fts_query(text: str, *, raw: bool = False, flag: str = "QUERY") -> str:
    """Words AND-ed together, each one quoted; 'migrat*' stays a prefix search."""
    if raw:
        if not text.strip():
            raise UsageError(f"{flag}: nothing to search for")
        return text
    terms: list[str] = []
    for word in text.split():
        prefix = word.endswith("*")
        core = word.rstrip("*")
        if not any(c.isalnum() for c in core):
            continue  # punctuation alone: the tokenizer would drop it anyway
        quoted = '"' + core.replace('"', '""') + '"'
        terms.append(quoted + ("*" if prefix else ""))
    if not terms:
        raise UsageError(f"{flag}: nothing to search for (give a word or two)")
    return " ".join(terms)


def split_highlights(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    """A snippet with match markers -> (plain text, [(start, end) of each match])."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    start: int | None = None
    length = 0
    for ch in snippet:
        if ch == MATCH_START:
            start = length
        elif ch == MATCH_END:
            if start is not None and length > start:
                spans.append((start, length))
            start = None
        else:
            plain.append(ch)
            length += 1
    return "".join(plain), spans
