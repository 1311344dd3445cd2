"""The labeled utterances the classifier is fitted on: ``examples/*.toml`` read and checked.

The format is documented in ``kilocli/routing/examples/README.md``; every problem is one
ConfigError line naming the file and the entry.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kilocli.errors import ConfigError
from kilocli.routing import text as text_views
from kilocli.routing.classifier import lexical
from kilocli.routing.classifier.params import (
    FORMAT,
    PASTE_TOKENS,
    PASTE_WEIGHT,
    SHORT_TURN_CHARS,
    SHRINKAGE,
)
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

if TYPE_CHECKING:  # a caller may hand in any importlib.resources folder
    from importlib.resources.abc import Traversable

FOLLOWUP_TABLE = "followup"


@dataclass(frozen=True)
class Example:
    text: str
    task: str | None  # None for a follow-up turn, which carries no request of its own
    difficulty: str | None
    source: str  # where it stands: "file.toml example #n" or "file.toml [table] key #n"
    origin: str = "handwritten"  # the public request it was modeled on (an address), if any
    shape: str | None = None  # how it is written: see SHAPES


# How a turn is written (examples/README.md): the formats real requests come in.
SHAPES: tuple[str, ...] = (
    "plain",
    "terse",
    "non-native",
    "multi-question",
    "pasted-first",
    "preamble",
    "file-dump",
    "traceback",
)
EXAMPLE_TABLE = "example"
_EXAMPLE_KEYS = ("task", "difficulty", "source", "text", "shape")


def default_examples_dir() -> Path:
    """The examples shipped in the package (kilocli is installed as files, never zipped:
    importlib.resources would cost a cold route its import of tempfile)."""
    return Path(__file__).resolve().parent.parent / "examples"


def _example_files(root: Traversable | Path) -> list[Traversable | Path]:
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise ConfigError(f"{root}: cannot read the examples folder: {exc}") from None
    return sorted((f for f in entries if f.name.endswith(".toml") and f.is_file()), key=_name)


def _name(f: Traversable | Path) -> str:
    return f.name


def _parse_sourced(name: str, items: object) -> list[Example]:
    """``[[example]]`` entries: one labeled turn each, with the address it was modeled on."""
    if not isinstance(items, list):
        raise ConfigError(f"{name}: [[{EXAMPLE_TABLE}]] must be an array of tables")
    out: list[Example] = []
    for i, item in enumerate(items, 1):
        where = f"{name}: {EXAMPLE_TABLE} #{i}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a table")
        unknown = sorted(set(item) - set(_EXAMPLE_KEYS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_EXAMPLE_KEYS)})"
            )
        for key in ("task", "difficulty", "source", "text"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ConfigError(f"{where}: {key!r} must be a non-empty string")
        task, difficulty, shape = item["task"], item["difficulty"], item.get("shape")
        if task not in TASKS:
            raise ConfigError(
                f"{where}: unknown task {task!r} (expected one of {', '.join(TASKS)})"
            )
        if difficulty not in DIFFICULTIES:
            expected = ", ".join(DIFFICULTIES)
            raise ConfigError(
                f"{where}: unknown difficulty {difficulty!r} (expected one of {expected})"
            )
        if shape is not None and shape not in SHAPES:
            raise ConfigError(
                f"{where}: unknown shape {shape!r} (expected one of {', '.join(SHAPES)})"
            )
        text = item["text"].strip()
        out.append(
            Example(text, task, difficulty, f"{name} {EXAMPLE_TABLE} #{i}", item["source"], shape)
        )
    return out


def _parse(name: str, data: dict[str, object]) -> list[Example]:
    out: list[Example] = []
    origin = data.get("source", "handwritten")
    if not isinstance(origin, str) or not origin.strip():
        raise ConfigError(f"{name}: 'source' must be a non-empty string")
    for table, body in data.items():
        where = f"{name}: [{table}]"
        if table == "source":
            continue
        if table == EXAMPLE_TABLE:
            out.extend(_parse_sourced(name, body))
            continue
        if table == FOLLOWUP_TABLE:
            allowed: tuple[str, ...] = ("turns",)
        elif table in TASKS:
            allowed = DIFFICULTIES
        else:
            raise ConfigError(f"{where}: unknown task bucket (expected one of {', '.join(TASKS)})")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: expected a table of string lists")
        for key, items in body.items():
            if key not in allowed:
                raise ConfigError(f"{where}: unknown key {key!r} (expected {', '.join(allowed)})")
            if not isinstance(items, list):
                raise ConfigError(f"{where} {key}: expected a list of strings")
            for i, text in enumerate(items, 1):
                if not isinstance(text, str) or not text.strip():
                    raise ConfigError(f"{where} {key} #{i}: expected a non-empty string")
                task, diff = (None, None) if table == FOLLOWUP_TABLE else (table, key)
                out.append(
                    Example(text.strip(), task, diff, f"{name} [{table}] {key} #{i}", origin)
                )
    return out


def load_examples(examples_dir: Traversable | Path | None = None) -> list[Example]:
    """The labeled utterances of ``examples_dir`` (default: those shipped in the package)."""
    root = default_examples_dir() if examples_dir is None else examples_dir
    examples: list[Example] = []
    for f in _example_files(root):
        try:
            data = tomllib.loads(f.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{f}: invalid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{f}: cannot read: {exc}") from None
        examples.extend(_parse(f.name, data))
    for axis, values in (("task", TASKS), ("difficulty", DIFFICULTIES)):
        for value in values:
            if not any(getattr(e, axis) == value for e in examples):
                raise ConfigError(f"{root}: no examples for {axis} bucket {value!r}")
    if not any(e.task is None for e in examples):
        raise ConfigError(f"{root}: no [{FOLLOWUP_TABLE}] turns")
    return examples


def examples_digest(examples_dir: Traversable | Path | None = None) -> str:
    """Hash of the example files (names and bytes), of the parameters the cache depends on and of
    the rules that cut a turn into views (kilocli/routing/text.py: a changed rule re-embeds)."""
    root = default_examples_dir() if examples_dir is None else examples_dir
    params = f"{FORMAT}|{PASTE_WEIGHT}|{PASTE_TOKENS}|{SHRINKAGE}|{SHORT_TURN_CHARS}|"
    params += f"{lexical.MIN_DF}|{lexical.C}|{lexical.NO_ASK_CHARS}"
    h = hashlib.sha256(params.encode())
    h.update(Path(text_views.__file__).read_bytes())
    for f in _example_files(root):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()
