"""Pool and catalogue files: load, merge and validate.

Files (TOML, shipped in ``pools/`` (``kilocli/_pools`` in a wheel), added to or overridden in
``<config>/pools/``; the format is documented in docs/pools.md):

  catalogue.toml       [models.<id>] entries -> ModelSpec; [method] says how cells are extrapolated
  <tier>.toml          one per tier (frontier, balanced, free, auto-efficient) -> TierPool

Every problem becomes one ``PoolError`` line naming the file and the line (TOML syntax) or the key
path (``pools/free.toml: bars.hard: must be a number between 0 and 1, got "high"``).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from kilocli.config import Paths, get_paths
from kilocli.errors import PoolError, UsageError
from kilocli.routing.taxonomy import DIFFICULTIES, RULES, TASKS, unknown_tier


@dataclass(frozen=True)
class Price:
    """USD per million tokens. None means unknown ("unpriced"), never zero."""

    input: float | None
    output: float | None
    cached_input: float | None  # None: same as input
    source: str
    date: str
    # a prompt-cache write (Anthropic: 1.25x input for the 5-minute cache); None: same as input
    cache_write: float | None = None


@dataclass(frozen=True)
class Skill:
    """Share of tasks solved (0..1) in one task x difficulty cell, and where the figure is from."""

    value: float
    # e.g. "measured: SWE-bench Verified bash-only ... 2025-12-10" or "extrapolated from ..."
    basis: str


@dataclass(frozen=True)
class ModelSpec:
    id: str  # our canonical id, e.g. "claude-sonnet-4.5"
    name: str  # display name
    vendor: str
    context_window: int  # tokens
    max_output_tokens: int
    price: Price
    # provider name -> that provider's model id, e.g. {"openrouter": "anthropic/claude-sonnet-4.5",
    # "anthropic": "claude-sonnet-4-5", "openai": "gpt-5", "ollama": "qwen2.5-coder:7b"}
    provider_ids: dict[str, str]
    skills: dict[tuple[str, str], Skill]  # (task, difficulty) -> Skill; every cell present
    free: bool = False  # zero-price model (OpenRouter :free, local Ollama)
    status: str = "active"  # or "deprecated"
    notes: str = ""  # caveats worth showing next to the model (rate limits, logging, quantisation)


@dataclass(frozen=True)
class Catalogue:
    models: dict[str, ModelSpec]
    sources: tuple[Path, ...] = ()


@dataclass(frozen=True)
class TierPool:
    name: str
    description: str
    # "cheapest_adequate": cheapest model whose skill meets the bar (auto-efficient, free)
    # "ordered": first reachable model in `models` order (frontier, balanced)
    rule: str
    models: _KeyPath  # candidate ids, all present in the catalogue
    bars: dict[str, float]  # difficulty -> minimum skill
    expected_output_tokens: dict[str, int]  # task -> tokens
    switch_factor: float  # sticky: switch only if new pick is cheaper by more than this factor
    fallback: str  # model used when the classifier is unsure or a cell has no figures
    min_margin: float  # task-probability margin below which the decision is "unsure"
    source: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)
    # every fallback candidate in order (`fallback` is the first): the first reachable one is used,
    # so a user with a single provider's key still falls back to that provider's balanced model
    fallback_chain: tuple[str, ...] = ()
    # never below balanced: a candidate is adequate only if its skill for the cell is at least the
    # fallback (balanced) model's minus this; None = no such floor
    floor_tolerance: float | None = None


STATUSES: tuple[str, ...] = ("active", "deprecated")
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
_TIER_KEYS = (
    "name",
    "description",
    "rule",
    "models",
    "fallback",
    "switch_factor",
    "min_margin",
    "floor_tolerance",
    "bars",
    "expected_output_tokens",
)
_TIER_REQUIRED = (
    "rule",
    "models",
    "fallback",
    "switch_factor",
    "min_margin",
    "bars",
    "expected_output_tokens",
)
_KeyPath = tuple[str | int, ...]
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$")
_PROVIDER = re.compile(r"^[a-z][a-z0-9_-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TOML_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")
# a stored extrapolation is rounded to 3 decimals: allow that much (and a hair) of difference
_METHOD_TOLERANCE = 0.0015


# ---------------------------------------------------------------------------------------------
# public API


def shift_bar(bar: float, shift: float) -> float:
    """sigmoid(logit(bar) + shift): moves a bar on the log-odds scale the skills are extrapolated
    on; 0 and 1 stay where they are."""
    if bar <= 0 or bar >= 1:
        return bar
    return 1 / (1 + math.exp(-(math.log(bar / (1 - bar)) + shift)))


def with_bar_shift(pool: TierPool, shift: float) -> TierPool:
    """The same tier with every bar moved by ``shift`` logits (the `quality` setting)."""
    if not shift:
        return pool
    return replace(pool, bars={d: shift_bar(v, shift) for d, v in pool.bars.items()})


def builtin_pools_dir() -> Path:
    """kilocli/_pools inside an installed wheel, else <repo>/pools (source checkout, editable)."""
    package = Path(__file__).parent.parent
    shipped = package / "_pools"
    return shipped if shipped.is_dir() else package.parent / "pools"


def load_catalogue(paths: Paths | None = None, extra_files: Sequence[Path] = ()) -> Catalogue:
    """Built-in catalogue, then every *.toml in the user's pools dir with a [models] table
    (additions, and overrides merged per field by id), then ``extra_files``."""
    paths = paths or get_paths()
    builtin = builtin_pools_dir() / CATALOGUE_FILE
    loader = _CatalogueLoader()
    loader.add(_File(builtin, builtin=True), _read(builtin))
    user_dir = paths.user_pools_dir
    if user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            data = _read(path)
            if isinstance(data.get("models"), dict):
                loader.add(_File(path), data)
    for path in extra_files:
        data = _read(path)
        if not isinstance(data.get("models"), dict):
            _File(path).fail("", "no [models] table: not a catalogue file")
        loader.add(_File(path), data)
    return loader.build()


def load_tier(name: str, catalogue: Catalogue, paths: Paths | None = None) -> TierPool:
    """The built-in tier file, with the user's <config>/pools/<name>.toml merged over it
    (top-level keys replace, [bars] and [expected_output_tokens] merge per key)."""
    if problem := unknown_tier(name):
        raise UsageError(problem)
    paths = paths or get_paths()
    builtin = builtin_pools_dir() / f"{name}.toml"
    merged = _check_tier(_File(builtin, builtin=True), _read(builtin), catalogue, partial=False)
    source = builtin
    override = paths.user_pools_dir / f"{name}.toml"
    if override.is_file():
        user = _check_tier(_File(override), _read(override), catalogue, partial=True)
        for key, value in user.items():
            if key in ("bars", "expected_output_tokens"):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        source = override
    merged["name"] = name
    return _tier_pool(merged, source)


def load_pool_file(path: Path, catalogue: Catalogue) -> TierPool:
    """A complete tier file given on the command line (``--pool FILE``); its name defaults to the
    file's stem."""
    data = _check_tier(_File(path), _read(path), catalogue, partial=False)
    data.setdefault("name", path.stem)
    return _tier_pool(data, path)


# ---------------------------------------------------------------------------------------------
# files, key paths and one-line errors


class _File:
    """A file being checked: knows how to name itself and a key path in an error."""

    def __init__(self, path: Path, *, builtin: bool = False) -> None:
        self.path = path
        self.builtin = builtin

    @property
    def name(self) -> str:
        return _display(self.path)  # only when an error or a label needs it: resolving costs

    def fail(self, key: str, message: str) -> NoReturn:
        raise PoolError(f"{self.name}: {key}: {message}" if key else f"{self.name}: {message}")

    def mtime_date(self) -> str:
        try:
            stamp = self.path.stat().st_mtime
        except OSError:
            return _dt.date.today().isoformat()
        return _dt.date.fromtimestamp(stamp).isoformat()


def _display(path: Path) -> str:
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


def _key(*parts: str | int) -> str:
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


def _show(value: Any) -> str:
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


def _read(path: Path) -> dict[str, Any]:
    where = _File(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        where.fail("", "file not found")
    except IsADirectoryError:
        where.fail("", "is a directory, not a TOML file")
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_AT.search(message)
        text = message[: match.start()] if match else message
        if match and match.group(1):
            where.fail(f"line {match.group(1)}, column {match.group(2)}", f"invalid TOML: {text}")
        where.fail("", f"invalid TOML: {text}")
    except UnicodeDecodeError:
        where.fail("", "not UTF-8 text")
    except OSError as exc:
        where.fail("", f"cannot read: {exc.strerror}")


def _known(
    f: _File, path: _KeyPath, table: Mapping[str, Any], allowed: Sequence[str], what: str
) -> None:
    for key in table:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(key, allowed, n=1)
            expected = f"expected one of: {', '.join(allowed)}"
            hint = f'did you mean "{close[0]}"?' if close else expected
            f.fail(_key(*path, key), f"unknown {what} ({hint})")


def _required(f: _File, path: _KeyPath, table: Mapping[str, Any], keys: Sequence[str]) -> None:
    for key in keys:
        if key not in table:
            f.fail(_key(*path), f'missing required key "{key}"')


def _table(f: _File, path: _KeyPath, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        f.fail(_key(*path), f"must be a table, got {_show(value)}")
    return value


def _string(f: _File, path: _KeyPath, value: Any, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        f.fail(_key(*path), f"must be a non-empty string, got {_show(value)}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _unit(f: _File, path: _KeyPath, value: Any) -> float:
    if not _is_number(value) or not 0 <= value <= 1:
        f.fail(_key(*path), f"must be a number between 0 and 1, got {_show(value)}")
    return float(value)


def _count(f: _File, path: _KeyPath, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        f.fail(_key(*path), f"must be a whole number above 0, got {_show(value)}")
    return value


def _model_ref(
    f: _File, path: _KeyPath, value: Any, catalogue: Catalogue, what: str = "model"
) -> str:
    ident = _string(f, path, value)
    if ident not in catalogue.models:
        import difflib

        close = difflib.get_close_matches(ident, list(catalogue.models), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        f.fail(_key(*path), f'unknown {what} "{ident}" (not in the catalogue{hint})')
    return ident


# ---------------------------------------------------------------------------------------------
# catalogue


@dataclass
class _Entry:
    """One model while files are merged: values, and which file set each of them."""

    origin: _File  # the file that introduced the model
    fields: dict[str, Any] = field(default_factory=dict)
    field_files: dict[str, _File] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)
    price: dict[str, Any] = field(default_factory=dict)
    price_files: dict[str, _File] = field(default_factory=dict)
    cells: dict[tuple[str, str], float] = field(default_factory=dict)
    cell_files: dict[tuple[str, str], _File] = field(default_factory=dict)
    # basis texts by row ("debug"), cell ("generate.medium") or for the whole model ("default")
    basis: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Method:
    """[method] of the built-in catalogue: logit offset and reason per (task, difficulty)."""

    offsets: dict[tuple[str, str], float]
    why: dict[tuple[str, str], str]


class _CatalogueLoader:
    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.method: _Method | None = None
        self.sources: list[Path] = []

    def add(self, f: _File, data: dict[str, Any]) -> None:
        if "method" in data and not f.builtin:
            f.fail("method", "only the built-in catalogue defines the extrapolation method")
        _known(f, (), data, ("models", "method"), "key")
        if f.builtin and "method" in data:
            self.method = _check_method(f, data["method"])
        models = _table(f, ("models",), data.get("models", {}))
        for ident, raw in models.items():
            if not _MODEL_ID.match(ident):
                f.fail(_key("models", ident), "model ids are letters, digits and . _ - : / +")
            entry = self.entries.get(ident)
            partial = entry is not None
            if entry is None:
                entry = self.entries[ident] = _Entry(origin=f)
            _merge_model(f, ("models", ident), _table(f, ("models", ident), raw), entry, partial)
        self.sources.append(f.path)

    def build(self) -> Catalogue:
        models = {ident: _build_model(ident, e, self.method) for ident, e in self.entries.items()}
        return Catalogue(models=models, sources=tuple(self.sources))


def _check_method(f: _File, raw: Any) -> _Method:
    table = _table(f, ("method",), raw)
    extrapolated = [t for t in TASKS if t != "debug"]
    _known(f, ("method",), table, extrapolated, "task")
    offsets: dict[tuple[str, str], float] = {}
    why: dict[tuple[str, str], str] = {}
    for task in extrapolated:
        if task not in table:
            f.fail(_key("method", task), "missing (every task but debug needs an offset)")
        row = _table(f, ("method", task), table[task])
        _known(f, ("method", task), row, ("offsets", "why"), "key")
        _required(f, ("method", task), row, ("offsets", "why"))
        nums, reasons = row["offsets"], row["why"]
        if not (isinstance(nums, list) and len(nums) == 3 and all(_is_number(n) for n in nums)):
            f.fail(_key("method", task, "offsets"), "must be 3 numbers: [easy, medium, hard]")
        if not (isinstance(reasons, list) and len(reasons) == 3):
            f.fail(_key("method", task, "why"), "must be 3 strings: [easy, medium, hard]")
        for i, diff in enumerate(DIFFICULTIES):
            offsets[task, diff] = float(nums[i])
            why[task, diff] = _string(f, ("method", task, "why", i), reasons[i])
    return _Method(offsets, why)


def _merge_model(
    f: _File, path: _KeyPath, raw: dict[str, Any], entry: _Entry, partial: bool
) -> None:
    """Check one file's [models.<id>] table and merge it into ``entry`` field by field."""
    _known(f, path, raw, _MODEL_KEYS, "key")
    if not partial:
        _required(f, path, raw, _MODEL_REQUIRED)
    for key in ("name", "vendor"):
        if key in raw:
            entry.fields[key] = _string(f, (*path, key), raw[key])
    if "notes" in raw:
        entry.fields["notes"] = _string(f, (*path, "notes"), raw["notes"], empty=True)
    if "status" in raw:
        status = _string(f, (*path, "status"), raw["status"])
        if status not in STATUSES:
            allowed = ", ".join(STATUSES)
            f.fail(_key(*path, "status"), f"must be one of {allowed}, got {_show(status)}")
        entry.fields["status"] = status
    for key in ("context_window", "max_output_tokens"):
        if key in raw:
            entry.fields[key] = _count(f, (*path, key), raw[key])
            entry.field_files[key] = f
    if "providers" in raw:
        providers = _table(f, (*path, "providers"), raw["providers"])
        if not providers and not partial:
            f.fail(_key(*path, "providers"), "needs at least one provider = model id")
        for name, ident in providers.items():
            if not _PROVIDER.match(name):
                message = "provider names are lowercase letters, digits, - and _"
                f.fail(_key(*path, "providers", name), message)
            entry.providers[name] = _string(f, (*path, "providers", name), ident)
    if "price" in raw:
        _merge_price(f, (*path, "price"), _table(f, (*path, "price"), raw["price"]), entry, partial)
    if "basis" in raw:
        for key, text in _table(f, (*path, "basis"), raw["basis"]).items():
            _basis_key(f, (*path, "basis", key), key)
            entry.basis[key] = _string(f, (*path, "basis", key), text)
    if "skills" in raw:
        skills = _table(f, (*path, "skills"), raw["skills"])
        _known(f, (*path, "skills"), skills, TASKS, "task")
        for task, row in skills.items():
            row = _table(f, (*path, "skills", task), row)
            _known(f, (*path, "skills", task), row, DIFFICULTIES, "difficulty")
            for diff, value in row.items():
                entry.cells[task, diff] = _unit(f, (*path, "skills", task, diff), value)
                entry.cell_files[task, diff] = f


def _basis_key(f: _File, path: _KeyPath, key: str) -> None:
    if key == "default":
        return
    task, _, diff = key.partition(".")
    if task not in TASKS:
        f.fail(_key(*path), f"unknown task (expected one of: {', '.join(TASKS)}, or default)")
    if diff and diff not in DIFFICULTIES:
        f.fail(_key(*path), f"unknown difficulty (expected one of: {', '.join(DIFFICULTIES)})")


def _merge_price(
    f: _File, path: _KeyPath, raw: dict[str, Any], entry: _Entry, partial: bool
) -> None:
    _known(f, path, raw, _PRICE_KEYS, "key")
    if not partial:
        _required(f, path, raw, ("input", "output"))
    for key in _PRICE_NUMBERS:
        if key not in raw:
            continue
        value = raw[key]
        if value == "unknown":
            entry.price[key] = None
        elif _is_number(value) and value >= 0:
            entry.price[key] = float(value)
        else:
            f.fail(_key(*path, key), f'must be a number >= 0 or "unknown", got {_show(value)}')
        entry.price_files[key] = f
    if "source" in raw:
        entry.price["source"] = _string(f, (*path, "source"), raw["source"])
    if "date" in raw:
        date = raw["date"]
        if isinstance(date, _dt.date) and not isinstance(date, _dt.datetime):
            date = date.isoformat()
        if not (isinstance(date, str) and _DATE.match(date)):
            f.fail(_key(*path, "date"), f"must be a date like 2026-11-26, got {_show(raw['date'])}")
        entry.price["date"] = date
    # a user who changes a figure without saying where it comes from gets it labelled as theirs
    changed = any(key in raw for key in _PRICE_NUMBERS)
    if changed and "source" not in raw:
        if f.builtin:
            f.fail(_key(*path), 'missing required key "source"')
        entry.price["source"] = f"user override ({f.name})"
    if changed and "date" not in raw:
        if f.builtin:
            f.fail(_key(*path), 'missing required key "date"')
        entry.price["date"] = f.mtime_date()


def _build_model(ident: str, e: _Entry, method: _Method | None) -> ModelSpec:
    path = ("models", ident)
    ctx, out = e.fields["context_window"], e.fields["max_output_tokens"]
    if out > ctx:
        where = e.field_files["max_output_tokens"]
        where.fail(_key(*path, "max_output_tokens"), f"{out} exceeds context_window {ctx}")
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
            _key(*path, "price", "cache_write"),
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


def _extrapolate(anchor: float, offset: float) -> float:
    if anchor <= 0 or anchor >= 1:
        return anchor
    return 1 / (1 + math.exp(-(math.log(anchor / (1 - anchor)) + offset)))


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
                    _key(*path, task, diff),
                    "missing (every task x difficulty cell needs a figure, "
                    "or a debug figure to extrapolate it from)",
                )
            if derivable and not explicit:
                assert method is not None and anchor is not None
                offset = method.offsets[cell]
                expected = _extrapolate(anchor.value, offset)
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
                        f"(expected {_extrapolate(anchor.value, method.offsets[cell]):.3f})"
                        if derivable and anchor is not None and method is not None
                        else "has no basis"
                    )
                    where.fail(
                        _key(*path, task, diff),
                        f'{value} {reason}: add basis."{task}.{diff}" saying where it comes from',
                    )
                basis = f"user figure ({where.name})"
            skills[cell] = Skill(value, basis)
    return {(t, d): skills[t, d] for t in TASKS for d in DIFFICULTIES}


# ---------------------------------------------------------------------------------------------
# tier files


def _check_tier(
    f: _File, raw: dict[str, Any], catalogue: Catalogue, *, partial: bool
) -> dict[str, Any]:
    """Checked and normalised values of one tier file (only the keys it has when ``partial``)."""
    _known(f, (), raw, _TIER_KEYS, "key")
    if not partial:
        _required(f, (), raw, _TIER_REQUIRED)
    out: dict[str, Any] = {}
    if "name" in raw:
        out["name"] = _string(f, ("name",), raw["name"])
    if "description" in raw:
        out["description"] = _string(f, ("description",), raw["description"], empty=True)
    if "rule" in raw:
        rule = raw["rule"]
        if rule not in RULES:
            f.fail("rule", f"unknown rule {_show(rule)} (expected one of: {', '.join(RULES)})")
        out["rule"] = rule
    if "models" in raw:
        models = raw["models"]
        if not isinstance(models, list) or not models:
            f.fail("models", f"must be a non-empty array of model ids, got {_show(models)}")
        seen: set[str] = set()
        for i, ident in enumerate(models):
            ident = _model_ref(f, ("models", i), ident, catalogue)
            if ident in seen:
                f.fail(_key("models", i), f'"{ident}" is listed twice')
            seen.add(ident)
        out["models"] = tuple(models)
    if "fallback" in raw:
        chain = raw["fallback"]
        if isinstance(chain, str):
            chain = [chain]
        if not isinstance(chain, list) or not chain:
            got = _show(raw["fallback"])
            f.fail("fallback", f"must be a model id or an array of them, got {got}")
        for i, ident in enumerate(chain):
            path: _KeyPath = ("fallback",) if isinstance(raw["fallback"], str) else ("fallback", i)
            _model_ref(f, path, ident, catalogue, "fallback model")
        out["fallback"] = tuple(chain)
    if "switch_factor" in raw:
        value = raw["switch_factor"]
        if not _is_number(value) or value < 1:
            f.fail("switch_factor", f"must be a number >= 1, got {_show(value)}")
        out["switch_factor"] = float(value)
    if "min_margin" in raw:
        out["min_margin"] = _unit(f, ("min_margin",), raw["min_margin"])
    if "floor_tolerance" in raw:
        out["floor_tolerance"] = _unit(f, ("floor_tolerance",), raw["floor_tolerance"])
    if "bars" in raw:
        bars = _table(f, ("bars",), raw["bars"])
        _known(f, ("bars",), bars, DIFFICULTIES, "difficulty")
        if not partial:
            _required(f, ("bars",), bars, DIFFICULTIES)
        out["bars"] = {d: _unit(f, ("bars", d), v) for d, v in bars.items()}
    if "expected_output_tokens" in raw:
        tokens = _table(f, ("expected_output_tokens",), raw["expected_output_tokens"])
        _known(f, ("expected_output_tokens",), tokens, TASKS, "task")
        if not partial:
            _required(f, ("expected_output_tokens",), tokens, TASKS)
        out["expected_output_tokens"] = {
            t: _count(f, ("expected_output_tokens", t), v) for t, v in tokens.items()
        }
    return out


def _tier_pool(data: dict[str, Any], source: Path) -> TierPool:
    chain: tuple[str, ...] = data["fallback"]
    return TierPool(
        name=data["name"],
        description=data.get("description", ""),
        rule=data["rule"],
        models=data["models"],
        bars={d: data["bars"][d] for d in DIFFICULTIES},
        expected_output_tokens={t: data["expected_output_tokens"][t] for t in TASKS},
        switch_factor=data["switch_factor"],
        fallback=chain[0],
        min_margin=data["min_margin"],
        source=source,
        fallback_chain=chain,
        floor_tolerance=data.get("floor_tolerance"),
    )


__all__ = [
    "CATALOGUE_FILE",
    "STATUSES",
    "Catalogue",
    "ModelSpec",
    "Price",
    "Skill",
    "TierPool",
    "builtin_pools_dir",
    "load_catalogue",
    "load_pool_file",
    "load_tier",
    "shift_bar",
    "with_bar_shift",
]
