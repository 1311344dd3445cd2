"""Pool and catalogue files: the built-in ones are complete and sensible, user files merge over
them, and every malformed file is reported in one line naming the file and the key path or line."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tomllib
from pathlib import Path

import pytest

from kilocli.config import get_paths
from kilocli.errors import PoolError, UsageError
from kilocli.routing.pools import (
    Catalogue,
    builtin_pools_dir,
    load_catalogue,
    load_pool_file,
    load_tier,
)
from kilocli.routing.pools.checks import read_toml
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS, TIERS

REQUIRED_MODELS = (
    "claude-opus-4.5",
    "claude-sonnet-4.5",
    "gpt-5.1",
    "gemini-3-pro-preview",
    "gpt-5-mini",
    "claude-haiku-4.5",
    "glm-4.6",
    "minimax-m2",
    "qwen3-coder-480b",
    "kimi-k2-0905",
    "gemini-2.5-flash",
    "deepseek-v3.2",
    "gpt-5-nano",
    "gpt-oss-120b",
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(get_paths({"KILOCLI_HOME": "/nonexistent-kilocli-home"}))


def user_dir() -> Path:
    folder = get_paths().user_pools_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def pool_error(call, *args) -> str:
    with pytest.raises(PoolError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message, message
    return message


# a complete user model: a debug row with its basis; the other rows follow from [method]
NEW_MODEL = """
[models."my-coder"]
name = "My Coder"
vendor = "Me"
context_window = 32_768
max_output_tokens = 8_192
providers = { ollama = "my-coder:7b" }
price = { input = 0, output = 0, cached_input = 0, source = "local", date = "2026-11-01" }
basis = { debug = "my own SWE-bench Verified bash-only run, 2026-11-01" }
[models."my-coder".skills]
debug = { easy = 0.30, medium = 0.10, hard = 0.02 }
"""

TIER = """
rule = "cheapest_adequate"
models = ["gpt-5-nano", "deepseek-v3.2"]
fallback = "deepseek-v3.2"
switch_factor = 2.0
min_margin = 0.1
[bars]
easy = 0.7
medium = 0.55
hard = 0.3
[expected_output_tokens]
edit = 1
docs = 1
explain = 1
generate = 1
test = 1
debug = 1
review = 1
plan = 1
ops = 1
"""


# -- the built-in files ------------------------------------------------------------------------


def test_builtin_dir_is_the_repo_pools_folder():
    folder = builtin_pools_dir()
    assert (folder / "catalogue.toml").is_file()
    assert {f"{name}.toml" for name in TIERS} <= {p.name for p in folder.glob("*.toml")}


def test_builtin_catalogue_is_complete(catalogue):
    assert len(catalogue.models) >= 16
    assert set(REQUIRED_MODELS) <= set(catalogue.models)
    cells = {(t, d) for t in TASKS for d in DIFFICULTIES}
    for ident, model in catalogue.models.items():
        assert model.id == ident
        assert set(model.skills) == cells, ident
        assert model.provider_ids, ident
        assert 0 < model.max_output_tokens <= model.context_window, ident
        for cell, skill in model.skills.items():
            assert 0 <= skill.value <= 1, (ident, cell)


def test_every_basis_and_price_says_where_it_comes_from(catalogue):
    for ident, model in catalogue.models.items():
        for cell, skill in model.skills.items():
            assert skill.basis.strip(), (ident, cell)
            assert "measured:" in skill.basis or "extrapolated from" in skill.basis, (ident, cell)
            assert "user figure" not in skill.basis, (ident, cell)
        price = model.price
        assert price.source.strip(), ident
        assert dt.date.fromisoformat(price.date) <= dt.date.today(), ident
        assert price.input is not None and price.output is not None, ident


def test_free_models_are_explicitly_zero_and_paid_ones_are_not(catalogue):
    free = {i for i, m in catalogue.models.items() if m.free}
    assert {"qwen3-coder-480b-free", "gpt-oss-120b-free", "qwen3-coder-30b-local"} <= free
    for ident in free:
        price = catalogue.models[ident].price
        assert (price.input, price.output, price.cached_input) == (0.0, 0.0, 0.0)
    for ident in REQUIRED_MODELS:
        assert catalogue.models[ident].price.output > 0, ident
    openrouter_free = [
        m
        for m in catalogue.models.values()
        if m.provider_ids.get("openrouter", "").endswith(":free")
    ]
    assert len(openrouter_free) >= 4
    assert all(m.free for m in openrouter_free)


def test_skills_fall_with_difficulty(catalogue):
    for ident, model in catalogue.models.items():
        for task in TASKS:
            easy, medium, hard = (model.skills[task, d].value for d in DIFFICULTIES)
            assert easy >= medium >= hard, (ident, task)


def test_extrapolated_cells_follow_the_documented_method():
    """Recompute every cell without its own basis from the debug cell and [method], straight from
    the TOML: the numbers in the file are what the documented method gives."""
    data = tomllib.loads((builtin_pools_dir() / "catalogue.toml").read_text(encoding="utf-8"))
    method = data["method"]
    checked = 0
    for ident, model in data["models"].items():
        basis = model.get("basis", {})
        for task in TASKS:
            for i, diff in enumerate(DIFFICULTIES):
                if task == "debug" or task in basis or f"{task}.{diff}" in basis:
                    continue
                anchor = model["skills"]["debug"][diff]
                offset = method[task]["offsets"][i]
                expected = 1 / (1 + math.exp(-(math.log(anchor / (1 - anchor)) + offset)))
                assert model["skills"][task][diff] == pytest.approx(expected, abs=0.0015), (
                    ident,
                    task,
                    diff,
                )
                checked += 1
    assert checked > 400


def test_auto_efficient_never_picks_below_the_balanced_model_in_any_cell(catalogue):
    """Every cell, for each provider's balanced model: the pick is within the tier's tolerance of
    that model's skill (GPT-5 nano and gpt-oss-120b, far below it everywhere, are never chosen)."""
    from kilocli.routing.classifier import Classification
    from kilocli.routing.router import Constraints, RouteRequest, route

    tier = load_tier("auto-efficient", catalogue)
    assert tier.floor_tolerance is not None
    for balanced in tier.fallback_chain:
        providers = catalogue.models[balanced].provider_ids
        reachable = {
            ident: next(iter(set(m.provider_ids) & set(providers)))
            for ident, m in catalogue.models.items()
            if set(m.provider_ids) & set(providers)
        }
        for task in TASKS:
            for difficulty in DIFFICULTIES:
                c = Classification(task, difficulty, {}, {}, task_margin=1.0, difficulty_margin=1.0)
                d = route(c, RouteRequest(2_000), tier, catalogue, Constraints(reachable=reachable))
                reference = next(m for m in tier.fallback_chain if m in reachable)
                floor = catalogue.models[reference].skills[task, difficulty].value
                assert d.skill is not None
                assert d.skill >= floor - tier.floor_tolerance - 1e-9, (balanced, task, difficulty)
                assert d.model not in ("gpt-5-nano", "gpt-oss-120b"), (balanced, task, difficulty)


def test_builtin_tiers_load_and_follow_their_rules(catalogue):
    tiers = {name: load_tier(name, catalogue) for name in TIERS}
    for name, tier in tiers.items():
        assert tier.name == name
        assert set(tier.bars) == set(DIFFICULTIES)
        assert set(tier.expected_output_tokens) == set(TASKS)
        assert tier.fallback == tier.fallback_chain[0]
        for ident in (*tier.models, *tier.fallback_chain):
            assert catalogue.models[ident].status == "active", (name, ident)
    assert tiers["frontier"].rule == tiers["balanced"].rule == "ordered"
    assert tiers["free"].rule == tiers["auto-efficient"].rule == "cheapest_adequate"
    assert all(catalogue.models[m].free for m in tiers["free"].models)
    assert not any(catalogue.models[m].free for m in tiers["auto-efficient"].models)
    assert tiers["auto-efficient"].fallback_chain == tiers["balanced"].models
    strongest_free = max(
        tiers["free"].models, key=lambda m: catalogue.models[m].skills["debug", "hard"].value
    )
    assert tiers["free"].fallback == strongest_free


def _first_for(tier, catalogue, provider):
    return next(m for m in tier.models if provider in catalogue.models[m].provider_ids)


def test_ordered_tiers_give_each_provider_its_best(catalogue):
    frontier = load_tier("frontier", catalogue)
    assert frontier.models[0] == "claude-opus-4.5"
    assert _first_for(frontier, catalogue, "anthropic") == "claude-opus-4.5"
    assert _first_for(frontier, catalogue, "openai") == "gpt-5.1"
    balanced = load_tier("balanced", catalogue)
    assert _first_for(balanced, catalogue, "openrouter") == "deepseek-v3.2"
    assert _first_for(balanced, catalogue, "openai") == "gpt-5-mini"
    assert _first_for(balanced, catalogue, "anthropic") == "claude-haiku-4.5"


def test_unknown_tier_is_a_usage_error(catalogue):
    with pytest.raises(UsageError) as info:
        load_tier("cheap", catalogue)
    assert str(info.value) == (
        "unknown tier 'cheap'; choose one of frontier, balanced, free, auto-efficient"
    )


# -- user files ----------------------------------------------------------------------------------


def test_user_price_override_merges_per_field():
    path = write(user_dir() / "prices.toml", '[models."gpt-5".price]\ninput = 1.0\n')
    model = load_catalogue().models["gpt-5"]
    assert model.price.input == 1.0
    assert model.price.output == 10.0  # untouched fields keep the built-in figure
    assert model.price.source == f"user override ({path.resolve()})"
    assert model.price.date == dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
    assert model.skills["debug", "hard"].value == 0.222


def test_user_model_is_added_and_its_rows_follow_the_method():
    write(user_dir() / "mine.toml", NEW_MODEL)
    catalogue = load_catalogue()
    model = catalogue.models["my-coder"]
    assert model.free and model.provider_ids == {"ollama": "my-coder:7b"}
    assert (
        model.skills["debug", "easy"].basis == "my own SWE-bench Verified bash-only run, 2026-11-01"
    )
    edit = model.skills["edit", "easy"]
    assert edit.value == pytest.approx(1 / (1 + math.exp(-(math.log(0.3 / 0.7) + 1.5))), abs=1e-3)
    assert edit.basis.startswith("extrapolated from the debug/easy figure 0.300 with a +1.50 logit")
    assert "gpt-5" in catalogue.models  # the built-in models are still there


def test_user_figure_without_basis_is_labelled_as_the_users():
    path = write(user_dir() / "plan.toml", '[models."gpt-5".skills]\nplan = { hard = 0.5 }\n')
    model = load_catalogue().models["gpt-5"]
    assert model.skills["plan", "hard"].value == 0.5
    assert model.skills["plan", "hard"].basis == f"user figure ({path.resolve()})"
    assert model.skills["plan", "medium"].basis.startswith("extrapolated from")


def test_user_anchor_moves_the_builtin_extrapolations():
    write(
        user_dir() / "anchor.toml",
        '[models."gpt-5"]\nbasis = { "debug.hard" = "my rerun" }\n'
        '[models."gpt-5".skills]\ndebug = { hard = 0.5 }\n',
    )
    model = load_catalogue().models["gpt-5"]
    assert model.skills["debug", "hard"].basis == "my rerun"
    assert model.skills["edit", "hard"].value == pytest.approx(
        1 / (1 + math.exp(-0.4)), abs=1e-3
    )  # logit(0.5) = 0, edit/hard offset +0.4
    assert model.skills["edit", "easy"].value == 0.944  # other difficulties keep their anchor


def test_extra_files_are_loaded_last_and_must_be_catalogues(tmp_path):
    extra = write(tmp_path / "extra.toml", NEW_MODEL)
    catalogue = load_catalogue(extra_files=[extra])
    assert "my-coder" in catalogue.models
    assert catalogue.sources[-1] == extra
    tier = write(tmp_path / "tier.toml", TIER)
    message = pool_error(load_catalogue, None, [tier])
    assert message == f"{tier.resolve()}: no [models] table: not a catalogue file"


def test_user_tier_override_merges_over_the_builtin(catalogue):
    path = write(user_dir() / "auto-efficient.toml", "switch_factor = 3.0\n[bars]\nhard = 0.4\n")
    builtin = load_tier("auto-efficient", catalogue, get_paths({"KILOCLI_HOME": "/nonexistent"}))
    tier = load_tier("auto-efficient", load_catalogue())
    assert tier.bars == {**builtin.bars, "hard": 0.4}
    assert tier.switch_factor == 3.0
    assert tier.models == builtin.models
    assert tier.source == path


def test_pool_file_is_a_complete_tier(tmp_path, catalogue):
    path = write(tmp_path / "mypool.toml", TIER)
    pool = load_pool_file(path, catalogue)
    assert pool.name == "mypool"
    assert pool.models == ("gpt-5-nano", "deepseek-v3.2")
    assert pool.fallback_chain == ("deepseek-v3.2",)
    assert pool.source == path
    short = write(tmp_path / "short.toml", 'rule = "ordered"\nmodels = ["gpt-5"]\n')
    assert pool_error(load_pool_file, short, catalogue).endswith(
        ': missing required key "fallback"'
    )


# -- one-line errors -------------------------------------------------------------------------------


def test_toml_syntax_error_names_file_and_line():
    path = write(user_dir() / "broken.toml", '[models."x"]\nname = "X"\nvendor = \n')
    message = pool_error(load_catalogue)
    assert message.startswith(f"{path.resolve()}: line 3, column ")
    assert "invalid TOML" in message


def _catalogue_error(text: str) -> str:
    write(user_dir() / "bad.toml", text)
    message = pool_error(load_catalogue)
    assert message.startswith(str((user_dir() / "bad.toml").resolve()) + ": "), message
    return message.split(": ", 1)[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[models."gpt-5"]\npricee = { input = 1 }\n',
            'models.gpt-5.pricee: unknown key (did you mean "price"?)',
        ),
        (
            '[models."gpt-5".price]\ninput = -1\n',
            'models.gpt-5.price.input: must be a number >= 0 or "unknown", got -1',
        ),
        (
            '[models."gpt-5".skills]\nedit = { easy = 1.5 }\n',
            "models.gpt-5.skills.edit.easy: must be a number between 0 and 1, got 1.5",
        ),
        (
            '[models."gpt-5".skills]\nrefactor = { easy = 0.5 }\n',
            "models.gpt-5.skills.refactor: unknown task (expected one of: "
            "edit, docs, explain, generate, test, debug, review, plan, ops)",
        ),
        (
            '[models."gpt-5".skills]\nedit = { trivial = 0.5 }\n',
            "models.gpt-5.skills.edit.trivial: unknown difficulty (expected one of: "
            "easy, medium, hard)",
        ),
        (
            '[models."gpt-5"]\ncontext_window = "big"\n',
            'models.gpt-5.context_window: must be a whole number above 0, got "big"',
        ),
        (
            '[models."gpt-5"]\nstatus = "retired"\n',
            'models.gpt-5.status: must be one of active, deprecated, got "retired"',
        ),
        (
            '[models."new"]\nname = "New"\n',
            'models.new: missing required key "vendor"',
        ),
        (
            NEW_MODEL.replace("debug = {", "docs = {"),
            "models.my-coder.skills.debug.easy: missing (every task x difficulty cell needs a "
            "figure, or a debug figure to extrapolate it from)",
        ),
        (
            NEW_MODEL.replace("max_output_tokens = 8_192", "max_output_tokens = 65_536"),
            "models.my-coder.max_output_tokens: 65536 exceeds context_window 32768",
        ),
        (
            'method = {}\n[models."gpt-5"]\nname = "GPT-5"\n',
            "method: only the built-in catalogue defines the extrapolation method",
        ),
    ],
)
def test_catalogue_errors_name_the_key_path(text, expected):
    assert _catalogue_error(text) == expected


def _tier_error(text: str, tmp_path: Path, catalogue: Catalogue) -> str:
    path = write(tmp_path / "pool.toml", text)
    message = pool_error(load_pool_file, path, catalogue)
    assert message.startswith(f"{path.resolve()}: "), message
    return message.split(": ", 1)[1]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("hard = 0.3", 'hard = "high"', 'bars.hard: must be a number between 0 and 1, got "high"'),
        (
            "hard = 0.3",
            "trivial = 0.3",
            "bars.trivial: unknown difficulty (expected one of: easy, medium, hard)",
        ),
        (
            '"gpt-5-nano", "deepseek-v3.2"',
            '"gpt-5-nano", "gpt-9"',
            'models[1]: unknown model "gpt-9" (not in the catalogue; did you mean "gpt-5"?)',
        ),
        (
            'fallback = "deepseek-v3.2"',
            'fallback = "nope"',
            'fallback: unknown fallback model "nope" (not in the catalogue)',
        ),
        (
            'rule = "cheapest_adequate"',
            'rule = "cheapest"',
            'rule: unknown rule "cheapest" (expected one of: ordered, cheapest_adequate)',
        ),
        (
            "min_margin = 0.1",
            "min_marign = 0.1",
            'min_marign: unknown key (did you mean "min_margin"?)',
        ),
        (
            "switch_factor = 2.0",
            "switch_factor = 0.5",
            "switch_factor: must be a number >= 1, got 0.5",
        ),
        ("ops = 1", "", 'expected_output_tokens: missing required key "ops"'),
        (
            "ops = 1",
            "ops = 1\nrefactor = 1",
            "expected_output_tokens.refactor: unknown task (expected one of: "
            "edit, docs, explain, generate, test, debug, review, plan, ops)",
        ),
    ],
)
def test_tier_errors_name_the_key_path(old, new, expected, tmp_path, catalogue):
    assert old in TIER
    assert _tier_error(TIER.replace(old, new), tmp_path, catalogue) == expected


def test_user_tier_override_errors_name_the_user_file(catalogue):
    path = write(user_dir() / "free.toml", 'fallback = ["deepseek-v4-flash-free", "gpt-9"]\n')
    message = pool_error(load_tier, "free", catalogue)
    assert message == (
        f'{path.resolve()}: fallback[1]: unknown fallback model "gpt-9" '
        '(not in the catalogue; did you mean "gpt-5"?)'
    )


def test_error_paths_are_shown_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pools" / "free.toml", TIER.replace("hard = 0.3", 'hard = "high"'))
    message = pool_error(load_pool_file, Path("pools/free.toml"), load_catalogue())
    assert message == 'pools/free.toml: bars.hard: must be a number between 0 and 1, got "high"'


def test_missing_pool_file_is_one_line(tmp_path, catalogue):
    path = tmp_path / "nope.toml"
    assert pool_error(load_pool_file, path, catalogue) == f"{path.resolve()}: file not found"


def test_catalogue_ids_and_provider_names_are_checked():
    bad_provider = NEW_MODEL.replace("{ ollama =", "{ OpenRouter =")
    assert re.fullmatch(
        r"models\.my-coder\.providers\.OpenRouter: provider names are .*",
        _catalogue_error(bad_provider),
    )


def test_a_builtin_figure_off_the_method_must_state_its_basis(tmp_path):
    """The shipped catalogue is checked strictly: an edited figure that no longer follows from the
    method, with no basis of its own, names the value the method would give."""
    from kilocli.routing.pools.catalogue import CatalogueLoader
    from kilocli.routing.pools.checks import PoolFile

    text = (builtin_pools_dir() / "catalogue.toml").read_text(encoding="utf-8")
    old = "edit     = { easy = 0.763, medium = 0.428, hard = 0.032 }"
    assert text.count(old) == 2  # gpt-oss-120b and its :free twin
    path = write(tmp_path / "catalogue.toml", text.replace(old, old.replace("0.763", "0.900"), 1))
    loader = CatalogueLoader()
    loader.add(PoolFile(path, builtin=True), tomllib.loads(path.read_text(encoding="utf-8")))
    message = pool_error(loader.build)
    assert message == (
        f"{path.resolve()}: models.gpt-oss-120b.skills.edit.easy: 0.9 does not follow from "
        "the debug figure by the method (expected 0.763): "
        'add basis."edit.easy" saying where it comes from'
    )


# -- the parsed copy of the built-in catalogue ------------------------------------------------
def test_a_second_load_reads_the_catalogues_parsed_copy_and_gives_the_same_models() -> None:
    paths = get_paths()
    first = load_catalogue(paths)
    [copy] = (paths.cache_dir / "parsed").glob("catalogue-*.json")
    assert load_catalogue(paths) == first  # the JSON round trip loses nothing
    data = json.loads(copy.read_text())
    data["models"]["gpt-5-nano"]["name"] = "read from the copy"
    copy.write_text(json.dumps(data))
    assert load_catalogue(paths).models["gpt-5-nano"].name == "read from the copy"


def test_a_changed_file_is_parsed_again_and_its_old_copy_dropped(tmp_path: Path) -> None:
    cache = tmp_path / "parsed"
    source = write(tmp_path / "catalogue.toml", "[models.a]\nname = 'A'\n")
    assert read_toml(source, cache) == {"models": {"a": {"name": "A"}}}
    [old] = cache.glob("catalogue-*.json")
    write(source, "[models.a]\nname = 'B'\n")
    assert read_toml(source, cache) == {"models": {"a": {"name": "B"}}}
    [new] = cache.glob("catalogue-*.json")
    assert new != old and not old.exists()
    assert not list(cache.glob(".tmp-*"))


def test_a_damaged_copy_or_an_unwritable_cache_only_costs_the_parse(tmp_path: Path) -> None:
    source = write(tmp_path / "catalogue.toml", "[models.a]\nname = 'A'\n")
    cache = tmp_path / "parsed"
    read_toml(source, cache)
    [copy] = cache.glob("*.json")
    copy.write_text("{not json")
    assert read_toml(source, cache) == {"models": {"a": {"name": "A"}}}
    blocked = write(tmp_path / "a-file", "")  # a file where the folder should be
    assert read_toml(source, blocked) == {"models": {"a": {"name": "A"}}}


def test_a_file_with_a_toml_date_is_not_copied(tmp_path: Path) -> None:
    source = write(tmp_path / "catalogue.toml", "[models.a]\nreleased = 2025-01-02\n")
    cache = tmp_path / "parsed"
    assert read_toml(source, cache) == {"models": {"a": {"released": dt.date(2025, 1, 2)}}}
    assert not cache.exists() or not list(cache.glob("*.json"))


def test_a_syntax_error_is_still_one_line_with_its_line_when_a_cache_is_given(
    tmp_path: Path,
) -> None:
    source = write(tmp_path / "catalogue.toml", "[models.a]\nname = \n")
    with pytest.raises(PoolError, match=r"catalogue.toml: line 2, column 8: invalid TOML") as info:
        read_toml(source, tmp_path / "parsed")
    assert "\n" not in str(info.value)
