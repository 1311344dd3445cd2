"""The catalogue file's schema: [models.<id>] tables checked, merged across files field by field,
and every task x difficulty cell given a figure and its basis ([method] extrapolation from the
debug cell, or an explicit basis)."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kilocli.routing.pools.checks import (
    KeyPath,
    PoolFile,
    as_count,
    as_string,
    as_table,
    as_unit,
    check_known,
    check_required,
    is_number,
    keypath,
    shown,
)
from kilocli.routing.pools.specs import STATUSES, Catalogue, ModelSpec, Price, Skill, shift_bar
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

CATALOGUE_FILE = "catalogue.toml"

_MODEL_KEYS = (
    "name",
    "vendor",
    "status",
    "context_window",
    "max_output_tokens",
    "notes",
    "providers",
    "price",
    "skills",
    "basis",
)
_MODEL_REQUIRED = ("name", "vendor", "context_window", "max_output_tokens", "providers", "price")
_PRICE_NUMBERS = ("input", "output", "cached_input", "cache_write")
# vendors whose prompt cache is opt-in and bills each write above the input rate: their models
# must say what a write costs (Anthropic: 1.25x input for the 5-minute cache)
_CACHE_WRITE_VENDORS = ("anthropic",)
_PRICE_KEYS = (*_PRICE_NUMBERS, "source", "date")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$")
_PROVIDER = re.compile(r"^[a-z][a-z0-9_-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# a stored extrapolation is rounded to 3 decimals: allow that much (and a hair) of difference
_METHOD_TOLERANCE = 0.0015


@dataclass
class _Entry:
    """One model while files are merged: values, and which file set each of them."""

    origin: PoolFile  # the file that introduced the model
    fields: dict[str, Any] = field(default_factory=dict)
    field_files: dict[str, PoolFile] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)
    price: dict[str, Any] = field(default_factory=dict)
    price_files: dict[str, PoolFile] = field(default_factory=dict)
    cells: dict[tuple[str, str], float] = field(default_factory=dict)
    cell_files: dict[tuple[str, str], PoolFile] = field(default_factory=dict)
    # basis texts by row ("debug"), cell ("generate.medium") or for the whole model ("default")
    basis: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Method:
    """[method] of the built-in catalogue: logit offset and reason per (task, difficulty)."""

    offsets: dict[tuple[str, str], float]
    why: dict[tuple[str, str], str]


class CatalogueLoader:
    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.method: _Method | None = None
        self.sources: list[Path] = []

    def add(self, f: PoolFile, data: dict[str, Any]) -> None:
        if "method" in data and not f.builtin:
            f.fail("method", "only the built-in catalogue defines the extrapolation method")
        check_known(f, (), data, ("models", "method"), "key")
        if f.builtin and "method" in data:
            self.method = _check_method(f, data["method"])
        models = as_table(f, ("models",), data.get("models", {}))
        for ident, raw in models.items():
            if not _MODEL_ID.match(ident):
                f.fail(keypath("models", ident), "model ids are letters, digits and . _ - : / +")
            entry = self.entries.get(ident)
            partial = entry is not None
            if entry is None:
                entry = self.entries[ident] = _Entry(origin=f)
            _merge_model(f, ("models", ident), as_table(f, ("models", ident), raw), entry, partial)
        self.sources.append(f.path)

    def build(self) -> Catalogue:
        models = {ident: _build_model(ident, e, self.method) for ident, e in self.entries.items()}
        return Catalogue(models=models, sources=tuple(self.sources))


def _check_method(f: PoolFile, raw: Any) -> _Method:
    table = as_table(f, ("method",), raw)
    extrapolated = [t for t in TASKS if t != "debug"]
    check_known(f, ("method",), table, extrapolated, "task")
    offsets: dict[tuple[str, str], float] = {}
    why: dict[tuple[str, str], str] = {}
    for task in extrapolated:
        if task not in table:
            f.fail(keypath("method", task), "missing (every task but debug needs an offset)")
        row = as_table(f, ("method", task), table[task])
        check_known(f, ("method", task), row, ("offsets", "why"), "key")
        check_required(f, ("method", task), row, ("offsets", "why"))
        nums, reasons = row["offsets"], row["why"]
        if not (isinstance(nums, list) and len(nums) == 3 and all(is_number(n) for n in nums)):
            f.fail(keypath("method", task, "offsets"), "must be 3 numbers: [easy, medium, hard]")
        if not (isinstance(reasons, list) and len(reasons) == 3):
            f.fail(keypath("method", task, "why"), "must be 3 strings: [easy, medium, hard]")
        for i, diff in enumerate(DIFFICULTIES):
            offsets[task, diff] = float(nums[i])
            why[task, diff] = as_string(f, ("method", task, "why", i), reasons[i])
    return _Method(offsets, why)


def _merge_model(
    f: PoolFile, path: KeyPath, raw: dict[str, Any], entry: _Entry, partial: bool
) -> None:
    """Check one file's [models.<id>] table and merge it into ``entry`` field by field."""
    check_known(f, path, raw, _MODEL_KEYS, "key")
    if not partial:
        check_required(f, path, raw, _MODEL_REQUIRED)
    for key in ("name", "vendor"):
        if key in raw:
            entry.fields[key] = as_string(f, (*path, key), raw[key])
    if "notes" in raw:
        entry.fields["notes"] = as_string(f, (*path, "notes"), raw["notes"], empty=True)
    if "status" in raw:
        status = as_string(f, (*path, "status"), raw["status"])
        if status not in STATUSES:
            allowed = ", ".join(STATUSES)
            f.fail(keypath(*path, "status"), f"must be one of {allowed}, got {shown(status)}")
        entry.fields["status"] = status
    for key in ("context_window", "max_output_tokens"):
        if key in raw:
            entry.fields[key] = as_count(f, (*path, key), raw[key])
            entry.field_files[key] = f
    if "providers" in raw:
        providers = as_table(f, (*path, "providers"), raw["providers"])
        if not providers and not partial:
            f.fail(keypath(*path, "providers"), "needs at least one provider = model id")
        for name, ident in providers.items():
            if not _PROVIDER.match(name):
                message = "provider names are lowercase letters, digits, - and _"
                f.fail(keypath(*path, "providers", name), message)
            entry.providers[name] = as_string(f, (*path, "providers", name), ident)
    if "price" in raw:
        _merge_price(
            f, (*path, "price"), as_table(f, (*path, "price"), raw["price"]), entry, partial
        )
    if "basis" in raw:
        for key, text in as_table(f, (*path, "basis"), raw["basis"]).items():
            _basis_key(f, (*path, "basis", key), key)
            entry.basis[key] = as_string(f, (*path, "basis", key), text)
    if "skills" in raw:
        skills = as_table(f, (*path, "skills"), raw["skills"])
        check_known(f, (*path, "skills"), skills, TASKS, "task")
        for task, row in skills.items():
            row = as_table(f, (*path, "skills", task), row)
            check_known(f, (*path, "skills", task), row, DIFFICULTIES, "difficulty")
            for diff, value in row.items():
                entry.cells[task, diff] = as_unit(f, (*path, "skills", task, diff), value)
                entry.cell_files[task, diff] = f


def _basis_key(f: PoolFile, path: KeyPath, key: str) -> None:
    if key == "default":
        return
    task, _, diff = key.partition(".")
    if task not in TASKS:
        f.fail(keypath(*path), f"unknown task (expected one of: {', '.join(TASKS)}, or default)")
    if diff and diff not in DIFFICULTIES:
        f.fail(keypath(*path), f"unknown difficulty (expected one of: {', '.join(DIFFICULTIES)})")


def _merge_price(
    f: PoolFile, path: KeyPath, raw: dict[str, Any], entry: _Entry, partial: bool
) -> None:
    check_known(f, path, raw, _PRICE_KEYS, "key")
    if not partial:
        check_required(f, path, raw, ("input", "output"))
    for key in _PRICE_NUMBERS:
        if key not in raw:
            continue
        value = raw[key]
        if value == "unknown":
            entry.price[key] = None
        elif is_number(value) and value >= 0:
            entry.price[key] = float(value)
        else:
            f.fail(keypath(*path, key), f'must be a number >= 0 or "unknown", got {shown(value)}')
        entry.price_files[key] = f
    if "source" in raw:
        entry.price["source"] = as_string(f, (*path, "source"), raw["source"])
    if "date" in raw:
        date = raw["date"]
        if isinstance(date, _dt.date) and not isinstance(date, _dt.datetime):
            date = date.isoformat()
        if not (isinstance(date, str) and _DATE.match(date)):
            f.fail(
                keypath(*path, "date"), f"must be a date like 2026-11-26, got {shown(raw['date'])}"
            )
        entry.price["date"] = date
    # a user who changes a figure without saying where it comes from gets it labelled as theirs
    changed = any(key in raw for key in _PRICE_NUMBERS)
    if changed and "source" not in raw:
        if f.builtin:
            f.fail(keypath(*path), 'missing required key "source"')
        entry.price["source"] = f"user override ({f.name})"
    if changed and "date" not in raw:
        if f.builtin:
            f.fail(keypath(*path), 'missing required key "date"')
        entry.price["date"] = f.mtime_date()


def _build_model(ident: str, e: _Entry, method: _Method | None) -> ModelSpec:
    path = ("models", ident)
    ctx, out = e.fields["context_window"], e.fields["max_output_tokens"]
    if out > ctx:
        where = e.field_files["max_output_tokens"]
        where.fail(keypath(*path, "max_output_tokens"), f"{out} exceeds context_window {ctx}")
    price = Price(
        input=e.price["input"],
        output=e.price["output"],
        cached_input=e.price.get("cached_input"),
        source=e.price["source"],
        date=e.price["date"],
        cache_write=e.price.get("cache_write"),
    )
    vendor = str(e.fields["vendor"]).strip().lower()
    if vendor in _CACHE_WRITE_VENDORS and price.input and "cache_write" not in e.price:
        where = e.price_files.get("input", e.origin)
        where.fail(
            keypath(*path, "price", "cache_write"),
            f"missing: {e.fields['vendor']} bills prompt-cache writes above the input price; "
            'give the rate per million tokens (or "unknown")',
        )
    skills = _build_skills(ident, e, method)
    free = price.input == 0 and price.output == 0 and price.cached_input in (None, 0)
    return ModelSpec(
        id=ident,
        name=e.fields["name"],
        vendor=e.fields["vendor"],
        context_window=ctx,
        max_output_tokens=out,
        price=price,
        provider_ids=dict(e.providers),
        skills=skills,
        free=free,
        status=e.fields.get("status", "active"),
        notes=e.fields.get("notes", ""),
    )


def _build_skills(ident: str, e: _Entry, method: _Method | None) -> dict[tuple[str, str], Skill]:
    """Every cell with its basis: its own basis entry, else the method's extrapolation from the
    debug cell (the value must follow from it), else the model's default basis, else (user
    figures only) "user figure (<file>)"."""
    path = ("models", ident, "skills")
    skills: dict[tuple[str, str], Skill] = {}
    for diff in DIFFICULTIES:  # debug first: it is what the other cells extrapolate from
        for task in ("debug", *(t for t in TASKS if t != "debug")):
            cell = (task, diff)
            explicit = e.basis.get(f"{task}.{diff}") or e.basis.get(task)
            where = e.cell_files.get(cell, e.origin)
            value = e.cells.get(cell)
            anchor = skills.get(("debug", diff))
            derivable = method is not None and task != "debug" and anchor is not None
            anchor_file = e.cell_files.get(("debug", diff), e.origin)
            if derivable and not explicit and where.builtin and not anchor_file.builtin:
                value = None  # a user replaced the anchor: the built-in extrapolation follows it
            if value is None and (explicit or not derivable):
                where.fail(
                    keypath(*path, task, diff),
                    "missing (every task x difficulty cell needs a figure, "
                    "or a debug figure to extrapolate it from)",
                )
            if derivable and not explicit:
                assert method is not None and anchor is not None
                offset = method.offsets[cell]
                expected = shift_bar(anchor.value, offset)
                if value is None or abs(value - expected) <= _METHOD_TOLERANCE:
                    basis = (
                        f"extrapolated from the debug/{diff} figure {anchor.value:.3f} with a "
                        f"{offset:+.2f} logit offset for {task}/{diff} ({method.why[cell]}); "
                        f"that figure: {anchor.basis}"
                    )
                    skills[cell] = Skill(round(expected, 3) if value is None else value, basis)
                    continue
            assert value is not None
            basis = explicit or e.basis.get("default")
            if basis is None:
                if where.builtin:
                    reason = (
                        f"does not follow from the debug figure by the method "
                        f"(expected {shift_bar(anchor.value, method.offsets[cell]):.3f})"
                        if derivable and anchor is not None and method is not None
                        else "has no basis"
                    )
                    where.fail(
                        keypath(*path, task, diff),
                        f'{value} {reason}: add basis."{task}.{diff}" saying where it comes from',
                    )
                basis = f"user figure ({where.name})"
            skills[cell] = Skill(value, basis)
    return {(t, d): skills[t, d] for t in TASKS for d in DIFFICULTIES}
