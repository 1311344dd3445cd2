"""A tier file's schema: its keys checked (complete, or partial for a user's override) and turned
into a TierPool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kilocli.routing.pools.checks import (
    KeyPath,
    PoolFile,
    as_count,
    as_model_ref,
    as_string,
    as_table,
    as_unit,
    check_known,
    check_required,
    is_number,
    keypath,
    shown,
)
from kilocli.routing.pools.specs import Catalogue, TierPool
from kilocli.routing.taxonomy import DIFFICULTIES, RULES, TASKS

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


def check_tier(
    f: PoolFile, raw: dict[str, Any], catalogue: Catalogue, *, partial: bool
) -> dict[str, Any]:
    """Checked and normalised values of one tier file (only the keys it has when ``partial``)."""
    check_known(f, (), raw, _TIER_KEYS, "key")
    if not partial:
        check_required(f, (), raw, _TIER_REQUIRED)
    out: dict[str, Any] = {}
    if "name" in raw:
        out["name"] = as_string(f, ("name",), raw["name"])
    if "description" in raw:
        out["description"] = as_string(f, ("description",), raw["description"], empty=True)
    if "rule" in raw:
        rule = raw["rule"]
        if rule not in RULES:
            f.fail("rule", f"unknown rule {shown(rule)} (expected one of: {', '.join(RULES)})")
        out["rule"] = rule
    if "models" in raw:
        models = raw["models"]
        if not isinstance(models, list) or not models:
            f.fail("models", f"must be a non-empty array of model ids, got {shown(models)}")
        seen: set[str] = set()
        for i, ident in enumerate(models):
            ident = as_model_ref(f, ("models", i), ident, catalogue)
            if ident in seen:
                f.fail(keypath("models", i), f'"{ident}" is listed twice')
            seen.add(ident)
        out["models"] = tuple(models)
    if "fallback" in raw:
        chain = raw["fallback"]
        if isinstance(chain, str):
            chain = [chain]
        if not isinstance(chain, list) or not chain:
            got = shown(raw["fallback"])
            f.fail("fallback", f"must be a model id or an array of them, got {got}")
        for i, ident in enumerate(chain):
            path: KeyPath = ("fallback",) if isinstance(raw["fallback"], str) else ("fallback", i)
            as_model_ref(f, path, ident, catalogue, "fallback model")
        out["fallback"] = tuple(chain)
    if "switch_factor" in raw:
        value = raw["switch_factor"]
        if not is_number(value) or value < 1:
            f.fail("switch_factor", f"must be a number >= 1, got {shown(value)}")
        out["switch_factor"] = float(value)
    if "min_margin" in raw:
        out["min_margin"] = as_unit(f, ("min_margin",), raw["min_margin"])
    if "floor_tolerance" in raw:
        out["floor_tolerance"] = as_unit(f, ("floor_tolerance",), raw["floor_tolerance"])
    if "bars" in raw:
        bars = as_table(f, ("bars",), raw["bars"])
        check_known(f, ("bars",), bars, DIFFICULTIES, "difficulty")
        if not partial:
            check_required(f, ("bars",), bars, DIFFICULTIES)
        out["bars"] = {d: as_unit(f, ("bars", d), v) for d, v in bars.items()}
    if "expected_output_tokens" in raw:
        tokens = as_table(f, ("expected_output_tokens",), raw["expected_output_tokens"])
        check_known(f, ("expected_output_tokens",), tokens, TASKS, "task")
        if not partial:
            check_required(f, ("expected_output_tokens",), tokens, TASKS)
        out["expected_output_tokens"] = {
            t: as_count(f, ("expected_output_tokens", t), v) for t, v in tokens.items()
        }
    return out


def tier_pool(data: dict[str, Any], source: Path) -> TierPool:
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
