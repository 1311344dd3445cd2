"""`kilo auth | config | sessions | stats` through CliRunner, with exact output."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from kilocli.cli import auth, config, sessions, stats
from kilocli.cli.stats import parse_since
from kilocli.config import Paths, get_paths
from kilocli.errors import ConfigError, UsageError
from kilocli.store import Store

OR_KEY = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef"
OPENAI_KEY = "sk-proj-ZYXWVUTSRQPONMLKJIHGFEDCBA9876"
Invoke = Callable[..., Result]


@pytest.fixture
def paths() -> Paths:
    return get_paths()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """The four groups mounted the way kilocli.cli mounts them; UTC, 80 columns, no keys."""
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "80")
    for var in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    time.tzset()
    app = typer.Typer()
    for command in (auth, config, sessions, stats):
        command.register(app)

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=input, env=env)

    yield invoke
    monkeypatch.undo()
    time.tzset()


def fails_with(result: Result, kind: type[Exception], message: str) -> None:
    assert isinstance(result.exception, kind), result.exception
    assert str(result.exception) == message
    assert result.stdout == ""


# -- auth ---------------------------------------------------------------------------------------
def test_auth_set_prompts_hidden_and_saves_0600(cli: Invoke, paths: Paths) -> None:
    result = cli("auth", "set", "openrouter", input=OR_KEY + "\n")
    assert result.exit_code == 0
    assert result.stderr == (
        f"openrouter API key:saved the openrouter key (sk-or-v1-…cdef) in {paths.keys_file}\n"
    )
    assert OR_KEY not in result.output
    assert stat.S_IMODE(paths.keys_file.stat().st_mode) == 0o600
    assert OR_KEY in paths.keys_file.read_text()


def test_auth_set_from_stdin_warns_when_env_wins(cli: Invoke, paths: Paths) -> None:
    result = cli(
        "auth", "set", "openai", "--stdin", input=OPENAI_KEY + "\n", env={"OPENAI_API_KEY": "sk-x"}
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == (
        f"saved the openai key (sk-proj-…9876) in {paths.keys_file}\n"
        "warning: OPENAI_API_KEY is set in the environment and takes precedence over the file\n"
    )


def test_auth_set_rejects_two_keys_and_unknown_provider(cli: Invoke, paths: Paths) -> None:
    fails_with(
        cli("auth", "set", "openai", "--stdin", input="sk-a\nsk-b\n"),
        UsageError,
        "--stdin: expected one key on one line",
    )
    fails_with(
        cli("auth", "set", "nope", input="x\n"),
        UsageError,
        "unknown provider 'nope'; keys are for: openrouter, openai, anthropic (for a custom "
        "endpoint: kilo config set providers.nope.base_url URL, then providers.nope.key_env VAR)",
    )
    assert not paths.keys_file.exists()


def test_auth_list_masks_and_says_where_from(cli: Invoke, paths: Paths) -> None:
    cli("auth", "set", "openrouter", "--stdin", input=OR_KEY)
    cli("auth", "set", "openai", "--stdin", input=OPENAI_KEY)
    env = {"OPENAI_API_KEY": "sk-proj-from-the-env-1234", "ANTHROPIC_API_KEY": "sk-ant-api03-xyz0"}
    result = cli("auth", "list", env=env)
    assert result.exit_code == 0
    assert result.stdout == (
        "provider    env var             source          key\n"
        "openrouter  OPENROUTER_API_KEY  file            sk-or-v1-…cdef\n"
        "openai      OPENAI_API_KEY      env (file too)  sk-proj-…1234\n"
        "anthropic   ANTHROPIC_API_KEY   env             sk-ant-api03-…xyz0\n"
    )
    assert result.stderr == f"keys file: {paths.keys_file}\n"
    as_json = json.loads(cli("auth", "list", "--json").stdout)
    assert [(r["provider"], r["source"], r["key"]) for r in as_json] == [
        ("openrouter", "file", "sk-or-v1-…cdef"),
        ("openai", "file", "sk-proj-…9876"),
        ("anthropic", None, None),
    ]
    for text in (result.output, json.dumps(as_json)):
        assert OR_KEY not in text and OPENAI_KEY not in text


def test_auth_rm(cli: Invoke, paths: Paths) -> None:
    cli("auth", "set", "openai", "--stdin", input=OPENAI_KEY)
    result = cli("auth", "rm", "openai")
    assert (result.exit_code, result.stderr) == (
        0,
        f"removed the openai key from {paths.keys_file}\n",
    )
    fails_with(
        cli("auth", "rm", "openai", env={"OPENAI_API_KEY": "sk-env"}),
        UsageError,
        f"no openai key in {paths.keys_file}; OPENAI_API_KEY is set in the environment: "
        "unset it there",
    )


# -- config -------------------------------------------------------------------------------------
def test_config_path_set_show_unset(cli: Invoke, paths: Paths) -> None:
    assert cli("config", "path").stdout == f"{paths.config_file}\n"
    assert cli("config", "show").stdout == (
        "# effective settings: defaults + no config file yet\n"
        "# max_cost_usd: not set\n"
        "# budget_session_usd: not set\n"
        "# budget_daily_usd: not set\n"
        "# budget_monthly_usd: not set\n"
        "# system_prompt: not set\n"
        "# encoder_model_path: not set\n"
        'tier = "auto-efficient"\n'
        'quality = "standard"\n'
        "timeout_s = 120.0\n"
        "connect_timeout_s = 10.0\n"
        "first_byte_timeout_s = 60.0\n"
        "idle_timeout_s = 30.0\n"
        "exclude = []\n"
        "provider_order = []\n"
        "\n"
        "[chat]\n"
        "history = true\n"
        "vi_mode = false\n"
    )
    result = cli("config", "set", "exclude", "gpt-5,claude-opus-4.5")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        f'exclude = ["gpt-5", "claude-opus-4.5"] in {paths.config_file}\n',
    )
    cli("config", "set", "max_cost_usd", "0.05")
    cli("config", "set", "providers.ollama.enabled", "yes")
    assert cli("config", "show").stdout == (
        f"# effective settings: defaults + {paths.config_file}\n"
        "# budget_session_usd: not set\n"
        "# budget_daily_usd: not set\n"
        "# budget_monthly_usd: not set\n"
        "# system_prompt: not set\n"
        "# encoder_model_path: not set\n"
        'tier = "auto-efficient"\n'
        'quality = "standard"\n'
        "timeout_s = 120.0\n"
        "connect_timeout_s = 10.0\n"
        "first_byte_timeout_s = 60.0\n"
        "idle_timeout_s = 30.0\n"
        "exclude = [\n"
        '    "gpt-5",\n'
        '    "claude-opus-4.5",\n'
        "]\n"
        "provider_order = []\n"
        "max_cost_usd = 0.05\n"
        "\n"
        "[chat]\n"
        "history = true\n"
        "vi_mode = false\n"
        "\n"
        "[providers.ollama]\n"
        "enabled = true\n"
    )
    result = cli("config", "unset", "max_cost_usd")
    assert result.stderr == f"unset max_cost_usd in {paths.config_file}\n"
    fails_with(
        cli("config", "unset", "max_cost_usd"),
        ConfigError,
        f"max_cost_usd is not set in {paths.config_file}",
    )


def test_config_set_bad_values(cli: Invoke, paths: Paths) -> None:
    fails_with(
        cli("config", "set", "max_cost_usd", "abc"),
        ConfigError,
        "max_cost_usd: expected a number, got 'abc'",
    )
    result = cli("config", "set", "teir", "balanced")
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith(
        "unknown setting 'teir' (valid keys: tier, quality, exclude,"
    )
    assert not paths.config_file.exists()


def test_config_show_reports_a_broken_file(cli: Invoke, paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("tier = 'fastest'\n")
    fails_with(
        cli("config", "show"),
        ConfigError,
        f"{paths.config_file}: key 'tier': unknown tier 'fastest'; choose one of frontier, "
        "balanced, free, auto-efficient",
    )


# -- sessions -----------------------------------------------------------------------------------
class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def seeded(paths: Paths) -> tuple[str, str]:
    """Two sessions a day apart: an ask with a priced debug turn, a free chat with an unfinished
    turn (the process stopped while it streamed)."""
    clock = Clock(datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    store = Store(paths.database, clock=clock)
    debug = {"task": "debug", "difficulty": "medium", "model": "claude-sonnet-4.5"}
    ask = store.new_session("ask", "auto-efficient")
    turn = store.start_turn(
        ask,
        "why does parse() fail on empty input?\nTraceback (most recent call last): ...",
        files=["parse.py"],
        decision=debug,
    )
    store.finish_turn(
        turn,
        answer="Because `data[0]` raises IndexError.\nGuard it first.",
        status="ok",
        decision=debug,
        model="claude-sonnet-4.5",
        provider="openrouter",
        usage={"input_tokens": 1200, "output_tokens": 300},
        estimated_cost_usd=0.008,
        cost_usd=0.0081,
        frontier_cost_usd=0.04,
        latency_ms=2300,
    )
    clock.now += timedelta(days=1)
    edit = {"task": "edit", "difficulty": "easy", "model": "qwen-free", "provider": "ollama"}
    chat = store.new_session("chat", "free")
    turn = store.start_turn(chat, "rename foo to bar", decision=edit)
    store.finish_turn(
        turn,
        answer="Done.",
        status="ok",
        decision=edit,
        model="qwen-free",
        provider="ollama",
        usage={"input_tokens": 100, "output_tokens": 10},
        estimated_cost_usd=0.0,
        cost_usd=0.0,
        frontier_cost_usd=0.01,
        latency_ms=500,
    )
    store.save_partial(store.start_turn(chat, "now the tests", decision=edit), "Here are")
    store.close()
    return ask, chat


def test_sessions_list(cli: Invoke, seeded: tuple[str, str]) -> None:
    ask, chat = seeded
    result = cli("sessions", "list")
    assert result.exit_code == 0
    assert result.stdout == (
        "id          kind  last used         turns     cost  title\n"
        f"{chat}  chat  2026-11-02 09:08      2    $0.00  rename foo to bar\n"
        f"{ask}  ask   2026-11-01 09:04      1  $0.0081  why does parse() fail on em…\n"
    )
    rows = json.loads(cli("sessions", "list", "--json", "-n", "1").stdout)
    assert rows == [
        {
            "id": chat,
            "kind": "chat",
            "tier": "free",
            "title": "rename foo to bar",
            "created_at": "2026-11-02T09:05:00+00:00",
            "updated_at": "2026-11-02T09:08:00+00:00",
            "turns": 2,
            "cost_usd": 0.0,
            "unpriced_turns": 0,
            "models": ["qwen-free"],
        }
    ]


def test_sessions_list_empty(cli: Invoke) -> None:
    result = cli("sessions", "list")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        "no sessions yet (kilo chat or kilo ask starts one)\n",
    )
    assert cli("sessions", "list", "--json").stdout == "[]\n"


def test_sessions_show_by_prefix_and_last(cli: Invoke, seeded: tuple[str, str]) -> None:
    ask, chat = seeded
    result = cli("sessions", "show", ask[:8])
    assert result.exit_code == 0
    assert result.stdout == (
        f"session {ask} · ask · tier auto-efficient · started 2026-11-01 09:02 · 1 turn · "
        "$0.0081\n"
        "\n"
        "[1] you · 2026-11-01 09:03\n"
        "files: parse.py\n"
        "why does parse() fail on empty input?\n"
        "Traceback (most recent call last): ...\n"
        "\n"
        "[1] claude-sonnet-4.5 via openrouter · debug/medium · $0.0081 (frontier $0.04) · "
        "2.3 s\n"
        "Because `data[0]` raises IndexError.\n"
        "Guard it first.\n"
    )
    assert cli("sessions", "show", "last").stdout == (
        f"session {chat} · chat · tier free · started 2026-11-02 09:05 · 2 turns · $0.00\n"
        "\n"
        "[1] you · 2026-11-02 09:06\n"
        "rename foo to bar\n"
        "\n"
        "[1] qwen-free via ollama · edit/easy · $0.00 (frontier $0.01) · 0.5 s\n"
        "Done.\n"
        "\n"
        "[2] you · 2026-11-02 09:08\n"
        "now the tests\n"
        "\n"
        "[2] qwen-free via ollama · edit/easy · unfinished\n"
        "Here are\n"
    )
    fails_with(cli("sessions", "show", "zz"), UsageError, "no session 'zz' (kilo sessions list)")


def test_sessions_export_markdown_json_and_file(
    cli: Invoke, paths: Paths, seeded: tuple[str, str]
) -> None:
    ask, chat = seeded
    assert cli("sessions", "export", ask).stdout == (
        "# why does parse() fail on empty input?\n"
        "\n"
        f"- session: `{ask}` (ask, tier auto-efficient)\n"
        "- started: 2026-11-01 09:02\n"
        "- turns: 1\n"
        "- cost: $0.0081\n"
        "\n"
        "## Turn 1\n"
        "\n"
        "**You** (2026-11-01 09:03):\n"
        "\n"
        "Files: `parse.py`\n"
        "\n"
        "why does parse() fail on empty input?\n"
        "Traceback (most recent call last): ...\n"
        "\n"
        "**claude-sonnet-4.5 via openrouter · debug/medium · $0.0081 (frontier $0.04) · "
        "2.3 s**:\n"
        "\n"
        "Because `data[0]` raises IndexError.\n"
        "Guard it first.\n"
    )
    data = json.loads(cli("sessions", "export", chat, "--format", "json").stdout)
    assert [(t["seq"], t["status"], t["answer"], t["usage"]) for t in data["turns"]] == [
        (1, "ok", "Done.", {"input_tokens": 100, "output_tokens": 10}),
        (2, "streaming", "Here are", None),
    ]
    assert data["turns"][0]["decision"]["provider"] == "ollama"
    target = paths.data_dir / "export" / "chat.md"
    result = cli("sessions", "export", "last", "-o", str(target))
    assert (result.stdout, result.stderr) == ("", f"wrote session {chat} to {target}\n")
    assert target.read_text().startswith("# rename foo to bar\n")
    fails_with(
        cli("sessions", "export", ask, "--format", "html"),
        UsageError,
        "--format: expected md or json, got 'html'",
    )


def test_sessions_rm(cli: Invoke, seeded: tuple[str, str]) -> None:
    ask, chat = seeded
    result = cli("sessions", "rm", "last")
    assert (result.exit_code, result.stderr) == (0, f"deleted session {chat}\n")
    assert [r["id"] for r in json.loads(cli("sessions", "list", "--json").stdout)] == [ask]
    fails_with(cli("sessions", "rm", chat), UsageError, f"no session '{chat}' (kilo sessions list)")


# -- stats --------------------------------------------------------------------------------------
def test_stats_tables_and_saving(cli: Invoke, seeded: tuple[str, str]) -> None:
    result = cli("stats")
    assert result.exit_code == 0
    assert result.stdout == (
        "all time: 3 turns in 2 sessions · spent $0.0081 · 1,300 tokens in, 310 out\n"
        "\n"
        "Spend by day\n"
        "day         turns     cost\n"
        "2026-11-01      1  $0.0081  ████████████████████\n"
        "2026-11-02      2    $0.00\n"
        "\n"
        "Spend by model\n"
        "model              turns     cost  share\n"
        "claude-sonnet-4.5      1  $0.0081   100%  ████████████████████\n"
        "qwen-free              2    $0.00     0%\n"
        "\n"
        "Turns by task\n"
        "task   turns  easy  medium  hard     cost\n"
        "edit       2     2       0     0    $0.00  ████████████████████\n"
        "debug      1     0       1     0  $0.0081  ██████████\n"
        "\n"
        "Actual vs frontier\n"
        "             cost\n"
        "actual    $0.0081  ███▎\n"
        "frontier    $0.05  ████████████████████\n"
        "saved     $0.0419  84% · over 2 turns priced both ways\n"
    )


def test_stats_since_and_json(cli: Invoke, seeded: tuple[str, str]) -> None:
    result = cli("stats", "--since", "2026-11-02", "--json")
    data = json.loads(result.stdout)
    assert (data["since"], data["turns"], data["sessions"]) == ("2026-11-02T00:00:00+00:00", 2, 1)
    assert [d["key"] for d in data["by_day"]] == ["2026-11-02"]
    assert (data["compared_turns"], data["frontier_cost_usd"], data["saving_usd"]) == (
        1,
        0.01,
        0.01,
    )
    fails_with(
        cli("stats", "--since", "last tuesday"),
        UsageError,
        "--since: expected 7d, 24h, 2w, today or a date like 2026-11-01, got 'last tuesday'",
    )


def test_stats_with_nothing_recorded(cli: Invoke) -> None:
    result = cli("stats")
    assert (result.exit_code, result.stdout) == (
        0,
        "all time: 0 turns in 0 sessions · spent $0.00 · 0 tokens in, 0 out\n",
    )


def test_parse_since() -> None:
    now = datetime(2026, 11, 8, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert parse_since("24h", now) == datetime(2026, 11, 7, 12, 0, tzinfo=UTC)
    assert parse_since("2w", now) == datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    since = parse_since("2026-11-01T08:30:00+02:00", now)
    assert since == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_config_show_hides_header_values_and_the_file_is_private(cli):
    secret = "Bearer lab-secret-9137"
    assert cli("config", "set", "providers.lab.base_url", "http://127.0.0.1:9/v1").exit_code == 0
    assert cli("config", "set", "providers.lab.headers.Authorization", secret).exit_code == 0
    shown = cli("config", "show").stdout
    assert secret not in shown
    assert 'Authorization = "(hidden)"' in shown
    assert (get_paths().config_file.stat().st_mode & 0o777) == 0o600


def test_stats_and_the_chats_cost_table_print_one_amount_the_same_way(
    cli: Invoke, paths: Paths
) -> None:
    """One money formatter: an amount the old stats formatter rounded to cents ($0.12) prints
    with the same four significant digits in `kilo stats` and in chat's /cost."""
    import io

    from rich.console import Console

    from kilocli.chat.spend import Spend
    from kilocli.ui.chat import cost_table

    amount = 0.123456
    store = Store(paths.database)
    session = store.new_session("ask", "auto-efficient")
    turn = store.start_turn(session, "explain the cache", decision={"task": "explain"})
    store.finish_turn(
        turn,
        answer="It keeps answers.",
        status="ok",
        decision={"task": "explain", "difficulty": "easy", "model": "gpt-5"},
        model="gpt-5",
        provider="openai",
        usage={"input_tokens": 10, "output_tokens": 10},
        estimated_cost_usd=amount,
        cost_usd=amount,
        frontier_cost_usd=None,
        latency_ms=100,
    )
    store.close()
    shown = cli("stats").stdout
    spend = Spend()
    spend.add("gpt-5", amount, None)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(cost_table(spend))
    in_chat = console.file.getvalue()  # type: ignore[attr-defined]
    for text in (shown, in_chat):
        assert "$0.1235" in text and "$0.12 " not in text, text
