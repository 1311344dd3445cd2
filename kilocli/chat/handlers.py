"""The chat's built-in slash commands: one declarative entry each, acting on a ChatSession."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rich.text import Text

from kilocli.chat.session import ChatSession
from kilocli.chat.slash import SlashCommand, SlashRegistry
from kilocli.errors import UsageError
from kilocli.routing.taxonomy import TIERS, unknown_tier
from kilocli.terminal_text import terminal_safe
from kilocli.ui.chat import cost_table, help_table, saving_text, sessions_table, spend_total

Cmd = SlashCommand[ChatSession]


def _one_arg(args: list[str], usage: str) -> str:
    if len(args) != 1:
        raise UsageError(f"usage: {usage}")
    return args[0]


def _no_args(args: list[str], usage: str) -> None:
    if args:
        raise UsageError(f"usage: {usage}")


# -- completers ----------------------------------------------------------------------------------
def complete_tiers(s: ChatSession, before: list[str], word: str) -> Iterable[str]:
    return [] if before else [t for t in TIERS if t.startswith(word)]


def model_ids(s: ChatSession) -> list[str]:
    router = s.router(wait=False)
    if router is None:
        return []
    return sorted(router.catalogue.models)


def complete_models(s: ChatSession, before: list[str], word: str) -> Iterable[str]:
    if before:
        return []
    return [m for m in ["auto", *model_ids(s)] if m.startswith(word)]


def complete_paths(s: ChatSession, before: list[str], word: str) -> Iterable[str]:
    """Entries of the folder named so far; folders end in '/' so Tab can continue into them."""
    if word == "~":
        word = "~/"
    expanded = os.path.expanduser(word)
    head, slash, prefix = expanded.rpartition("/")
    folder = Path(head + slash) if slash else Path(".")
    if not folder.is_absolute():
        folder = s.cwd / folder
    typed_head = word[: len(word) - len(prefix)]  # keep what the user typed (~, ./)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        if entry.name.startswith(".") and not prefix.startswith("."):
            continue  # hidden entries only when asked for
        out.append(typed_head + entry.name + ("/" if entry.is_dir() else ""))
    return out


def complete_context_files(s: ChatSession, before: list[str], word: str) -> Iterable[str]:
    return [f for f in s.conversation.files if f.startswith(word) and f not in before]


def complete_retry(s: ChatSession, before: list[str], word: str) -> Iterable[str]:
    return ["--up"] if not before and "--up".startswith(word) else []


# -- handlers ------------------------------------------------------------------------------------
def do_help(s: ChatSession, args: list[str]) -> None:
    s.view.print(help_table(REGISTRY))


def do_tier(s: ChatSession, args: list[str]) -> None:
    if not args:
        s.note(f"tier: {s.route.tier} (choose: {', '.join(TIERS)})")
        return
    name = _one_arg(args, "/tier NAME")
    if problem := unknown_tier(name):
        raise UsageError(f"/tier: {problem}")
    s.route.tier = name
    s.route.bump()
    s.note(f"tier: {name}")


def do_model(s: ChatSession, args: list[str]) -> None:
    if not args:
        s.note(f"model: {s.route.pin or 'auto (routed per turn)'}")
        return
    model = _one_arg(args, "/model ID|auto")
    if model == "auto":
        s.route.pin = None
        s.route.bump()
        s.note("model: auto (routed per turn)")
        return
    router = s.router()
    assert router is not None
    if model not in router.catalogue.models:
        from difflib import get_close_matches

        near = get_close_matches(model, list(router.catalogue.models), n=1)
        hint = f"; did you mean {near[0]}?" if near else " (kilo models lists them)"
        raise UsageError(f"/model: unknown model {model!r}{hint}")
    s.route.pin = model
    s.route.bump()
    s.note(f"model: {model} (pinned; /model auto to route again)")


def do_explain(s: ChatSession, args: list[str]) -> None:
    _no_args(args, "/explain")
    if s.last is None:
        raise UsageError("/explain: no turn yet (kilo route --explain TEXT explains any text)")
    from kilocli.ui.route import print_explain

    print_explain(s.last.decision, s.view.err)


def do_retry(s: ChatSession, args: list[str]) -> None:
    if args not in ([], ["--up"]):
        raise UsageError("usage: /retry [--up]")
    s.retry(up=args == ["--up"])


def do_wrong(s: ChatSession, args: list[str]) -> None:
    from kilocli.routing.personal import parse_label

    if not args:
        raise UsageError("usage: /wrong TASK DIFFICULTY (e.g. /wrong edit easy)")
    task, difficulty = parse_label(args, "/wrong")
    if s.last is None:
        raise UsageError("/wrong: no turn yet to label")
    was = f"{s.last.decision.task}/{s.last.decision.difficulty}"
    cid = s.record_correction(task, difficulty, "wrong")
    router = s.router(wait=False)
    unused = router is not None and not router.personal
    note = " (this chat routes with --no-personal: not used here)" if unused else ""
    s.note(
        f"recorded #{cid}: the last prompt is {task}/{difficulty} (it was routed {was}); "
        f"similar requests will route as {task}/{difficulty}{note} · kilo examples list"
    )


def complete_label(s: ChatSession, before: list[str], word: str) -> Iterable[str]:
    from kilocli.routing.taxonomy import DIFFICULTIES, TASKS

    if not before:
        return [t for t in TASKS if t.startswith(word)]
    if len(before) == 1:
        return [d for d in DIFFICULTIES if d.startswith(word)]
    return []


def do_add(s: ChatSession, args: list[str]) -> None:
    if not args:
        raise UsageError("usage: /add PATH...")
    problems = []
    for raw in args:
        try:
            name, tokens = s.conversation.add_file(raw, s.cwd)
        except UsageError as exc:
            problems.append(exc.message)
            continue
        s.note(f"added {name} ({tokens:,} tokens)")
    s.route.bump()
    if problems:
        raise UsageError("; ".join(problems))
    _files_summary(s)


def do_drop(s: ChatSession, args: list[str]) -> None:
    if not args:
        raise UsageError("usage: /drop PATH... (or /drop all)")
    if args == ["all"]:
        count = s.conversation.drop_all_files()
        s.note(f"dropped {count} file{'s' if count != 1 else ''}")
    else:
        for raw in args:
            s.note(f"dropped {s.conversation.drop_file(raw, s.cwd)}")
    s.route.bump()
    _files_summary(s)


def _files_summary(s: ChatSession) -> None:
    tokens = s.conversation.file_tokens()
    if tokens:
        plural = "s" if len(tokens) != 1 else ""
        s.note(f"in context: {len(tokens)} file{plural}, {sum(tokens.values()):,} tokens")


def do_files(s: ChatSession, args: list[str]) -> None:
    _no_args(args, "/files")
    tokens = s.conversation.file_tokens()
    if not tokens:
        s.note("no files in context (/add PATH)")
        return
    for name, count in tokens.items():
        s.note(f"{name}  {count:,} tokens")


def do_clear(s: ChatSession, args: list[str]) -> None:
    _no_args(args, "/clear")
    s.conversation.clear()
    s.session_id = None  # the next turn starts a new stored session
    s.current_model = None
    s.previous_decision = None
    s.last = None
    s.route.bump()
    kept = len(s.conversation.files)
    tail = f"; {kept} file{'s' if kept != 1 else ''} still in context (/drop all)" if kept else ""
    s.note(f"conversation cleared{tail}")


def do_cost(s: ChatSession, args: list[str]) -> None:
    _no_args(args, "/cost")
    if not s.spend.turns:
        s.note("no turns yet: nothing spent")
        return
    s.view.print(cost_table(s.spend))


def do_sessions(s: ChatSession, args: list[str]) -> None:
    if args:
        _search_sessions(s, " ".join(args))
        return
    sessions = s.store.list_sessions(limit=10)
    if not sessions:
        s.note("no stored sessions yet")
        return
    s.view.print(sessions_table(sessions, s.session_id))


def _search_sessions(s: ChatSession, text: str) -> None:
    from kilocli.search_query import fts_query
    from kilocli.search_view import hits_table

    hits = s.store.search(fts_query(text, flag="/sessions"), limit=10)
    if not hits:
        s.note(f"no stored turn matches {text!r}")
        return
    title = f"turns matching {text!r} (kilo sessions show ID, kilo chat --resume ID)"
    s.view.print(hits_table(hits, title=terminal_safe(title)))


def do_exit(s: ChatSession, args: list[str]) -> None:
    s.should_exit = True


REGISTRY: SlashRegistry[ChatSession] = SlashRegistry(
    [
        Cmd("help", "list commands and keys", do_help, aliases=("?",)),
        Cmd(
            "tier", "switch tier for the next turns", do_tier, usage="NAME", complete=complete_tiers
        ),
        Cmd(
            "model",
            "pin a model (no routing), or auto to route per turn",
            do_model,
            usage="ID|auto",
            complete=complete_models,
        ),
        Cmd("explain", "why the last turn went where it did", do_explain, aliases=("why",)),
        Cmd(
            "retry",
            "ask the last prompt again; --up uses the next stronger model (and learns)",
            do_retry,
            usage="[--up]",
            complete=complete_retry,
        ),
        Cmd(
            "wrong",
            "label the last turn (TASK DIFFICULTY): similar requests route that way",
            do_wrong,
            usage="TASK DIFFICULTY",
            complete=complete_label,
        ),
        Cmd(
            "add",
            "put files in context (token cost shown)",
            do_add,
            usage="PATH...",
            complete=complete_paths,
        ),
        Cmd(
            "drop",
            "take files out of context",
            do_drop,
            usage="PATH...|all",
            complete=complete_context_files,
        ),
        Cmd("files", "list the files in context", do_files),
        Cmd("clear", "forget the conversation (start a new session)", do_clear),
        Cmd("cost", "this session's spend by model, and the saving vs frontier", do_cost),
        Cmd(
            "sessions",
            "recent stored sessions, or the turns matching QUERY (full-text search)",
            do_sessions,
            usage="[QUERY]",
        ),
        Cmd("exit", "leave the chat (Ctrl-D too)", do_exit, aliases=("quit", "q")),
    ]
)


def session_summary(s: ChatSession) -> Text:
    saving = saving_text(s.spend)
    return Text(f"session {spend_total(s.spend)}" + (f" · {saving}" if saving else ""), style="dim")
