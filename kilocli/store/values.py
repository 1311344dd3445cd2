"""Conversions between Python values and what the store's columns hold (pure, no database)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from kilocli.store.records import jsonable

TITLE_MAX = 60
ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int, width: int) -> str:
    digits = []
    while n:
        n, r = divmod(n, 36)
        digits.append(ID_ALPHABET[r])
    return "".join(reversed(digits)).rjust(width, "0")


def new_session_id(now: datetime) -> str:
    """7 base-36 chars of Unix seconds (sorts by creation until 2059) + 3 random ones."""
    return _base36(int(now.timestamp()), 7) + "".join(secrets.choice(ID_ALPHABET) for _ in range(3))


def ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def title_of(prompt: str) -> str | None:
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    if not line:
        return None
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1].rstrip() + "…"


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, default=str)


def usage_int(usage: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))
