"""Each vocabulary has one home: tiers in routing/taxonomy.py, providers in providers/presets.py.

Two kinds of check: the names other modules use ARE the objects of that home (identity, and
what settings, keys and the registry derive from the preset table), and no other module of
kilocli/ spells the vocabulary out again as a literal collection (an AST scan of the source).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from kilocli.providers import presets
from kilocli.routing import taxonomy

PACKAGE = Path(__file__).resolve().parents[2] / "kilocli"
HOMES = {
    "kilocli.routing.taxonomy": taxonomy,
    "kilocli.providers.presets": presets,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield module_name(path), ast.parse(path.read_text(encoding="utf-8"), str(path))


def literal_strings(node: ast.AST) -> set[str] | None:
    """The string elements of a tuple/list/set literal, or the string keys and values of a dict
    literal; None for any other node."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = node.elts
    elif isinstance(node, ast.Dict):
        items = [k for k in node.keys if k is not None] + node.values
    else:
        return None
    return {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}


# vocabulary -> (its home, the words a literal must not hold all of outside that home)
VOCABULARIES = {
    "tier names": ("kilocli.routing.taxonomy", set(taxonomy.TIERS)),
    "provider kinds": ("kilocli.providers.presets", set(presets.KINDS)),
    "preset names": ("kilocli.providers.presets", set(presets.PRESET_ORDER)),
    "key variables": (
        "kilocli.providers.presets",
        {p.key_env for p in presets.PRESETS if p.key_env},
    ),
    "preset URLs": ("kilocli.providers.presets", {p.base_url for p in presets.PRESETS}),
}


# (vocabulary, module) still listing it, to be derived from the home; drop the line once fixed
KNOWN: set[tuple[str, str]] = set()


def duplicates(vocabulary: str) -> list[str]:
    home, words = VOCABULARIES[vocabulary]
    found = []
    for name, tree in sources():
        if name == home or (vocabulary, name) in KNOWN:
            continue
        for node in ast.walk(tree):
            strings = literal_strings(node)
            if strings is not None and words <= strings:
                found.append(f"{name}:{node.lineno}")
    return found


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
def test_no_module_spells_out_a_vocabulary_again(vocabulary: str) -> None:
    assert duplicates(vocabulary) == [], f"{vocabulary} listed outside their home"


def test_the_scan_sees_a_duplicate_literal() -> None:
    # a tuple of every tier and a dict of every key variable are both seen; a shorter one is not
    keys = {p.name: p.key_env for p in presets.PRESETS}
    tree = ast.parse(f"A = {tuple(taxonomy.TIERS)!r}\nB = {keys!r}\nC = {taxonomy.TIERS[:2]!r}")
    _, words = VOCABULARIES["key variables"]
    found = [
        (node.lineno, vocabulary)
        for node in ast.walk(tree)
        for vocabulary, want in (("tiers", set(taxonomy.TIERS)), ("keys", words))
        if (strings := literal_strings(node)) is not None and want <= strings
    ]
    assert sorted(found) == [(1, "tiers"), (2, "keys")]


def top_level_imports() -> Iterator[tuple[str, str, str]]:
    """(module, home, name) for each name a module imports from a home at its top level."""
    for name, tree in sources():
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module in HOMES:
                for alias in node.names:
                    yield name, node.module, alias.asname or alias.name


def test_modules_use_the_objects_of_the_home() -> None:
    seen = list(top_level_imports())
    # the homes are actually used (else this test would check nothing)
    assert {home for _, home, _ in seen} == set(HOMES)
    for module, home, name in seen:
        imported = getattr(importlib.import_module(module), name)
        assert imported is getattr(HOMES[home], name), f"{module}.{name} is not {home}.{name}"


def test_settings_keys_and_registry_derive_from_the_preset_table() -> None:
    from kilocli import keys, settings
    from kilocli.providers import registry

    assert registry.PRESET_ORDER is presets.PRESET_ORDER
    assert registry.KINDS is presets.KINDS
    listed = [(p.name, p.key_env) for p in sorted(presets.PRESETS, key=lambda p: p.listed)]
    assert list(settings.BUILTIN_PROVIDERS.items()) == listed
    assert list(keys.PROVIDER_ENV.items()) == [(n, v) for n, v in listed if v]
    assert settings.Settings().provider_names() == list(presets.LISTED_ORDER)
    # every preset the registry configures is its table row (no variable moves its endpoint)
    env = {p.key_env: "k" for p in presets.PRESETS if p.key_env}
    configs = registry.configured_providers({"ollama": {}}, lambda var: None, env)
    assert [c.name for c in configs] == list(presets.PRESET_ORDER)
    for cfg, row in zip(configs, presets.PRESETS, strict=True):
        assert (cfg.kind, cfg.base_url, cfg.key_env, cfg.zero_price) == (
            row.kind,
            row.base_url,
            row.key_env,
            row.free,
        )
        assert dict(cfg.headers) == dict(row.headers)
    # the endpoint variable of a preset is the one its table row names
    moved = {p.url_env: "http://proxy:9/v1" for p in presets.PRESETS if p.url_env}
    for cfg in registry.configured_providers({"ollama": {}}, lambda var: None, {**env, **moved}):
        row = presets.BY_NAME[cfg.name]
        assert (cfg.base_url != row.base_url) == (row.url_env is not None), cfg.name


def test_a_kind_outside_the_table_is_refused_the_same_way_everywhere() -> None:
    from kilocli.config import get_paths
    from kilocli.errors import ConfigError
    from kilocli.providers.registry import kind_problem
    from kilocli.settings import load_settings

    expected = f"expected one of {', '.join(presets.KINDS)}, got 'grpc'"
    paths = get_paths()  # the test's own KILOCLI_HOME
    assert kind_problem("grpc") == expected
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("[providers.lab]\nbase_url = 'http://x/v1'\nkind = 'grpc'\n")
    with pytest.raises(ConfigError, match=f"key 'providers.lab.kind': {expected}"):
        load_settings(paths)
