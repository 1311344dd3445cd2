"""Pool and catalogue files: load, merge and validate.

Files (TOML, shipped in ``pools/`` (``kilocli/_pools`` in a wheel), added to or overridden in
``<config>/pools/``; the format is documented in docs/pools.md):

  catalogue.toml       [models.<id>] entries -> ModelSpec; [method] says how cells are extrapolated
  <tier>.toml          one per tier (frontier, balanced, free, auto-efficient) -> TierPool

Every problem becomes one ``PoolError`` line naming the file and the line (TOML syntax) or the key
path (``pools/free.toml: bars.hard: must be a number between 0 and 1, got "high"``).

    specs.py      the data: Price, Skill, ModelSpec, Catalogue, TierPool (and the bar shift)
    checks.py     a file being read, key paths, one-line errors, value checks
    catalogue.py  the catalogue schema and the per-field merge of several files
    tiers.py      the tier schema and the merge of a user's override
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kilocli.config import Paths, get_paths
from kilocli.errors import UsageError
from kilocli.routing.pools.catalogue import CATALOGUE_FILE, CatalogueLoader
from kilocli.routing.pools.checks import PoolFile, read_toml
from kilocli.routing.pools.specs import (
    STATUSES,
    Catalogue,
    ModelSpec,
    Price,
    Skill,
    TierPool,
    shift_bar,
    with_bar_shift,
)
from kilocli.routing.pools.tiers import check_tier, tier_pool
from kilocli.routing.taxonomy import unknown_tier


def builtin_pools_dir() -> Path:
    """kilocli/_pools inside an installed wheel, else <repo>/pools (source checkout, editable)."""
    package = Path(__file__).parent.parent.parent  # kilocli/
    shipped = package / "_pools"
    return shipped if shipped.is_dir() else package.parent / "pools"


def load_catalogue(paths: Paths | None = None, extra_files: Sequence[Path] = ()) -> Catalogue:
    """Built-in catalogue, then every *.toml in the user's pools dir with a [models] table
    (additions, and overrides merged per field by id), then ``extra_files``."""
    paths = paths or get_paths()
    builtin = builtin_pools_dir() / CATALOGUE_FILE
    loader = CatalogueLoader()
    loader.add(PoolFile(builtin, builtin=True), read_toml(builtin, paths.cache_dir / "parsed"))
    user_dir = paths.user_pools_dir
    if user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            data = read_toml(path)
            if isinstance(data.get("models"), dict):
                loader.add(PoolFile(path), data)
    for path in extra_files:
        data = read_toml(path)
        if not isinstance(data.get("models"), dict):
            PoolFile(path).fail("", "no [models] table: not a catalogue file")
        loader.add(PoolFile(path), data)
    return loader.build()


def load_tier(name: str, catalogue: Catalogue, paths: Paths | None = None) -> TierPool:
    """The built-in tier file, with the user's <config>/pools/<name>.toml merged over it
    (top-level keys replace, [bars] and [expected_output_tokens] merge per key)."""
    if problem := unknown_tier(name):
        raise UsageError(problem)
    paths = paths or get_paths()
    builtin = builtin_pools_dir() / f"{name}.toml"
    merged = check_tier(
        PoolFile(builtin, builtin=True), read_toml(builtin), catalogue, partial=False
    )
    source = builtin
    override = paths.user_pools_dir / f"{name}.toml"
    if override.is_file():
        user = check_tier(PoolFile(override), read_toml(override), catalogue, partial=True)
        for key, value in user.items():
            if key in ("bars", "expected_output_tokens"):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        source = override
    merged["name"] = name
    return tier_pool(merged, source)


def load_pool_file(path: Path, catalogue: Catalogue) -> TierPool:
    """A complete tier file given on the command line (``--pool FILE``); its name defaults to the
    file's stem."""
    data = check_tier(PoolFile(path), read_toml(path), catalogue, partial=False)
    data.setdefault("name", path.stem)
    return tier_pool(data, path)


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
