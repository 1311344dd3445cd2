"""The vocabulary of pool-file checks: a file being read, TOML key paths and one-line errors.

Every problem becomes one ``PoolError`` line naming the file and the line (TOML syntax) or the key
path (``pools/free.toml: bars.hard: must be a number between 0 and 1, got "high"``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from kilocli.config import atomic_write
from kilocli.errors import PoolError
from kilocli.routing.pools.specs import Catalogue

KeyPath = tuple[str | int, ...]
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


class PoolFile:
    """A file being checked: knows how to name itself and a key path in an error."""

    def __init__(self, path: Path, *, builtin: bool = False) -> None:
        self.path = path
        self.builtin = builtin

    @property
    def name(self) -> str:
        return display_path(self.path)  # only when an error or a label needs it: resolving costs

    def fail(self, key: str, message: str) -> NoReturn:
        raise PoolError(f"{self.name}: {key}: {message}" if key else f"{self.name}: {message}")

    def mtime_date(self) -> str:
        try:
            stamp = self.path.stat().st_mtime
        except OSError:
            return _dt.date.today().isoformat()
        return _dt.date.fromtimestamp(stamp).isoformat()


def display_path(path: Path) -> str:
    """Relative to the working directory when inside it, ~/... under home, else absolute."""
    try:
        resolved = path.resolve()
        cwd = Path.cwd()
        if resolved.is_relative_to(cwd):
            return str(resolved.relative_to(cwd))
        home = Path.home()
        if resolved.is_relative_to(home):
            return "~/" + str(resolved.relative_to(home))
        return str(resolved)
    except (OSError, RuntimeError):
        return str(path)


def keypath(*parts: str | int) -> str:
    """TOML-style key path: models."claude-opus-4.5".price.input, models[2]."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _BARE_KEY.match(part) else _quote(part)
        out = f"{out}.{text}" if out else text
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return repr(value)


def read_toml(path: Path, parsed_cache: Path | None = None) -> dict[str, Any]:
    """The file's tables; every failure is one PoolError line naming the file (and its line).

    With ``parsed_cache`` (a folder), a file parsed before is read from its JSON copy there, keyed
    by the sha256 of its bytes: the built-in catalogue is ~30 KB of TOML, which tomllib takes
    ~6 ms to parse on every start and json ~0.3 ms. A cache that cannot be read or written costs
    only that time."""
    where = PoolFile(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        where.fail("", "file not found")
    except IsADirectoryError:
        where.fail("", "is a directory, not a TOML file")
    except OSError as exc:
        where.fail("", f"cannot read: {exc.strerror}")
    copy = None
    if parsed_cache is not None:
        copy = parsed_cache / f"{path.stem}-{hashlib.sha256(raw).hexdigest()[:32]}.json"
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(copy.read_bytes())
            if isinstance(data, dict):
                return data
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_AT.search(message)
        text = message[: match.start()] if match else message
        if match and match.group(1):
            where.fail(f"line {match.group(1)}, column {match.group(2)}", f"invalid TOML: {text}")
        where.fail("", f"invalid TOML: {text}")
    except UnicodeDecodeError:
        where.fail("", "not UTF-8 text")
    if copy is not None:
        _keep_parsed(copy, data)
    return data


def _keep_parsed(copy: Path, data: dict[str, Any]) -> None:
    """Write the JSON copy (atomically) and drop the copies of the file's earlier versions. A
    TOML date has no JSON form: such a file is parsed every time."""
    try:
        text = json.dumps(data)
    except TypeError:
        return
    with contextlib.suppress(OSError):
        atomic_write(copy, text.encode("utf-8"))
        stem = copy.stem.rsplit("-", 1)[0]
        for old in copy.parent.glob(f"{stem}-*.json"):
            if old != copy:
                old.unlink(missing_ok=True)


def check_known(
    f: PoolFile, path: KeyPath, table: Mapping[str, Any], allowed: Sequence[str], what: str
) -> None:
    for key in table:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(key, allowed, n=1)
            expected = f"expected one of: {', '.join(allowed)}"
            hint = f'did you mean "{close[0]}"?' if close else expected
            f.fail(keypath(*path, key), f"unknown {what} ({hint})")


def check_required(
    f: PoolFile, path: KeyPath, table: Mapping[str, Any], keys: Sequence[str]
) -> None:
    for key in keys:
        if key not in table:
            f.fail(keypath(*path), f'missing required key "{key}"')


def as_table(f: PoolFile, path: KeyPath, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        f.fail(keypath(*path), f"must be a table, got {shown(value)}")
    return value


def as_string(f: PoolFile, path: KeyPath, value: Any, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        f.fail(keypath(*path), f"must be a non-empty string, got {shown(value)}")
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def as_unit(f: PoolFile, path: KeyPath, value: Any) -> float:
    if not is_number(value) or not 0 <= value <= 1:
        f.fail(keypath(*path), f"must be a number between 0 and 1, got {shown(value)}")
    return float(value)


def as_count(f: PoolFile, path: KeyPath, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        f.fail(keypath(*path), f"must be a whole number above 0, got {shown(value)}")
    return value


def as_model_ref(
    f: PoolFile, path: KeyPath, value: Any, catalogue: Catalogue, what: str = "model"
) -> str:
    ident = as_string(f, path, value)
    if ident not in catalogue.models:
        import difflib

        close = difflib.get_close_matches(ident, list(catalogue.models), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        f.fail(keypath(*path), f'unknown {what} "{ident}" (not in the catalogue{hint})')
    return ident
