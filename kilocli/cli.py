"""The `kilo` command line: argument parsing and wiring only; logic lives in the modules it uses."""

from __future__ import annotations

import contextlib
import errno
import math
import os

# Multi-threaded BLAS makes tiny matrix products slow and jittery on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from kilocli import output
from kilocli.completion import (
    complete_models,
    complete_session_ids,
    complete_tiers,
    explicit_shell_args,
)
from kilocli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, KiloError, UsageError
from kilocli.signals import Terminated

app = typer.Typer(
    name="kilo",
    help="kilocli: a coding assistant that sends each request to the cheapest adequate model.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (kilocli/completion.py)
    # never print locals: keys live in them
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

TierOpt = Annotated[
    str | None,
    typer.Option(
        "--tier",
        "-t",
        help="frontier, balanced, free or auto-efficient (default from config).",
        autocompletion=complete_tiers,
    ),
]
PoolOpt = Annotated[
    Path | None,
    typer.Option("--pool", help="Use this pool file instead of the tier's.", dir_okay=False),
]
NoPersonalOpt = Annotated[
    bool,
    typer.Option(
        "--no-personal", help="Route without your corrections (kilo examples list shows them)."
    ),
]


def _context(pool: Path | None = None, *, personal: bool = True):
    from kilocli.app import App

    app = App.load(on_note=output.note)
    if pool is not None and not pool.is_file():
        raise UsageError(f"--pool: no such file: {pool}")
    return app, app.router(pool_file=pool, personal=personal)


def _tier(name: str | None, default: str) -> str:
    from kilocli.routing.taxonomy import unknown_tier

    tier = name or default
    if problem := unknown_tier(tier):
        raise UsageError(f"--tier: {problem}")
    return tier


def _gather_prompt(words: list[str] | None, *, use_stdin: bool, what: str = "prompt") -> str:
    """The argument is the instruction; piped stdin joins it as a delimited block after it."""
    from kilocli.stdin import check_prompt_size, read_piped_stdin

    words = list(words or [])
    stdin_is_prompt = words == ["-"]
    if stdin_is_prompt:
        words = []
    piped = read_piped_stdin(required=True) if stdin_is_prompt else None
    if piped is None and use_stdin and not stdin_is_prompt:
        piped = read_piped_stdin()
    instruction = " ".join(words).strip()
    if piped is not None and piped.strip():
        text = f"{instruction}\n\n<stdin>\n{piped.rstrip()}\n</stdin>" if instruction else piped
    else:
        text = instruction
    if not text.strip():
        raise UsageError(f"empty {what}: pass it as an argument or pipe it on stdin")
    return check_prompt_size(text, "prompt")


# --------------------------------------------------------------------------------------------
@app.command()
def route(
    prompt: Annotated[
        list[str] | None, typer.Argument(help="The request; '-' reads it from stdin.")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", "-e", help="Show why: buckets, candidates, costs.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per decision.")] = False,
    tier: TierOpt = None,
    pool: PoolOpt = None,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch",
            help="JSON lines with a 'prompt' field, or one prompt a line ('-' = stdin).",
            allow_dash=True,
        ),
    ] = None,
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not read piped stdin.")] = False,
    teach: Annotated[
        str | None,
        typer.Option(
            "--teach",
            metavar="TASK/DIFFICULTY",
            help="Record this label for the prompt: it becomes a personal routing example.",
        ),
    ] = None,
    no_personal: NoPersonalOpt = False,
) -> None:
    """Decide where a request would go, without calling any model (no network, no key needed).

    Examples:

      kilo route "rename foo to bar in utils.py"

      kilo route --explain "plan a postgres->sqlite migration"

      kilo route --json --batch prompts.jsonl

      kilo route --json < prompts.txt      (one decision per input line)

      kilo route --teach edit/easy "migrate the users table"   (teach the router your label)
    """
    label = None
    if teach is not None:
        from kilocli.routing.personal import parse_label

        label = parse_label([teach], "--teach")
        if batch is not None:
            raise UsageError("--teach: labels one prompt; it cannot be used with --batch")
    kilo, router = _context(pool, personal=not no_personal)
    tier_name = _tier(tier, kilo.settings.tier)
    if label is not None:
        _teach(kilo, router, _gather_prompt(prompt, use_stdin=not no_stdin), label, tier_name)
        return
    if batch is None and as_json and not prompt and not no_stdin:
        from kilocli.stdin import read_piped_stdin

        piped = read_piped_stdin()
        if piped is not None:
            _route_batch(router, _prompts_from_text(piped, "stdin"), tier_name)
            return
    if batch is not None:
        _route_batch(router, _read_batch(batch), tier_name)
        return
    text = _gather_prompt(prompt, use_stdin=not no_stdin)
    decision = router.decide([text], tier=tier_name)
    if as_json:
        output.write_answer(json.dumps(decision.to_json(), ensure_ascii=False) + "\n")
    elif explain:
        from kilocli.render import explain as render_explain

        output.stdout().print(render_explain(decision))
    else:
        from kilocli.render import summary_line

        output.stdout().print(summary_line(decision), markup=False)


def _teach(kilo, router, text: str, label: tuple[str, str], tier: str) -> None:
    """Record the user's label for ``text`` and say how it routes now."""
    from kilocli.render import summary_line

    before = router.decide([text], tier=tier)
    with kilo.store() as store:
        cid = store.add_correction(text, *label, "teach", routed=before.to_json())
    router.refresh_personal()
    after = router.decide([text], tier=tier)
    was = f"{before.task}/{before.difficulty}"
    output.stdout().print(
        f"recorded #{cid}: {label[0]}/{label[1]} (it was routed {was}); now: {summary_line(after)}",
        markup=False,
    )
    if not router.personal:
        output.note("--no-personal: recorded, but this run routes without your corrections")


def _read_batch(path: Path) -> list[str]:
    from kilocli.stdin import decode_text

    if str(path) == "-":
        from kilocli.stdin import read_piped_stdin

        text = read_piped_stdin(required=True) or ""
        return _prompts_from_text(text, "stdin")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--batch: cannot read {path}: {exc.strerror}") from None
    return _prompts_from_text(decode_text(data, str(path)), str(path))


def _prompts_from_text(text: str, origin: str) -> list[str]:
    """JSON lines with a 'prompt' field, or plain text with one prompt a line (blanks skipped)."""
    prompts: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("{"):
            try:
                obj = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{origin}:{lineno}: invalid JSON: {exc.msg}") from None
            value = obj.get("prompt") if isinstance(obj, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{origin}:{lineno}: JSON line needs a non-empty string 'prompt'")
            prompts.append(value)
        else:
            prompts.append(stripped)
    if not prompts:
        raise UsageError(f"{origin}: no prompts found")
    return prompts


def _route_batch(router, prompts: list[str], tier: str) -> None:
    chunk = 256  # encode in batches; write as we go so a long file streams out
    for start in range(0, len(prompts), chunk):
        decisions = router.decide_many(prompts[start : start + chunk], tier=tier)
        sys.stdout.write(
            "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in decisions)
        )
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
@app.command()
def ask(
    prompt: Annotated[
        list[str] | None, typer.Argument(help="The request; '-' reads it from stdin.")
    ] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="Attach a file (repeatable).", dir_okay=False),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    tier: TierOpt = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Pin a model id: no routing.", autocompletion=complete_models
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Per-request cap in USD on the estimate: a cheaper adequate model or a refusal.",
        ),
    ] = None,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Wait for the whole answer.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: answer, decision, usage, cost.")
    ] = False,
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not read piped stdin.")] = False,
    pool: PoolOpt = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Call a pinned --model even if its estimate is over the cap."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds for the whole call, retries and fallbacks included (default 120).",
        ),
    ] = None,
    continue_last: Annotated[
        bool,
        typer.Option(
            "--continue", "-c", help="Continue the last session (its turns go with the prompt)."
        ),
    ] = False,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            help="Continue this session: an id or a unique prefix (kilo sessions list).",
            autocompletion=complete_session_ids,
        ),
    ] = None,
    up: Annotated[
        bool,
        typer.Option(
            "--up",
            help="Route as usual, then use the next stronger model (recorded as a correction).",
        ),
    ] = False,
    no_personal: NoPersonalOpt = False,
) -> None:
    """Ask once: the request is routed, the answer streams to stdout, route and cost to stderr.

    Examples:

      kilo ask "add a docstring to parse()" -f parser.py

      git diff | kilo ask "write a commit message"

      kilo ask -c "and now the tests for it"      (continues the last session)

      git diff | kilo ask -c "and now the commit message"

      kilo ask --tier frontier --max-cost 0.05 "plan the auth migration"

      kilo ask --up "why does this deadlock?" -f worker.py
    """
    from kilocli.ask import attach_files, run_ask

    if max_cost is not None and not (math.isfinite(max_cost) and max_cost > 0):
        raise UsageError(f"--max-cost: must be a positive, finite number of USD, got {max_cost}")
    if timeout is not None and not (math.isfinite(timeout) and 0 < timeout <= 3600):
        raise UsageError(f"--timeout: must be a number of seconds from 0 to 3600, got {timeout}")
    if continue_last and session is not None:
        raise UsageError("--continue and --session: give one (--continue is the last session)")
    if up and model is not None:
        raise UsageError("--up: escalates a routed model; it cannot be used with --model")
    kilo, router = _context(pool, personal=not no_personal)
    continuation = None
    if continue_last or session is not None:
        from kilocli.continuation import load_continuation
        from kilocli.routing.taxonomy import TIERS

        flag = "--continue" if continue_last else "--session"
        with kilo.store() as store:
            continuation = load_continuation(store, session or "last", flag)
        if tier is None and continuation.tier in TIERS:
            tier = continuation.tier  # the session keeps its tier unless --tier says otherwise
    tier_name = _tier(tier, kilo.settings.tier)
    text = attach_files(_gather_prompt(prompt, use_stdin=not no_stdin), file or [])
    code = run_ask(
        kilo,
        router,
        prompt=text,
        tier=tier_name,
        system=system,
        pin=model,
        max_cost_usd=max_cost,
        stream=not no_stream,
        as_json=as_json,
        force=force,
        timeout_s=timeout,
        files=[str(f) for f in file or []],
        continuation=continuation,
        up=up,
    )
    raise typer.Exit(code)


@app.command()
def chat(
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            "-r",
            help="Continue a session: an id, a prefix, or 'last'.",
            autocompletion=complete_session_ids,
        ),
    ] = None,
    tier: TierOpt = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Pin a model id: no routing.", autocompletion=complete_models
        ),
    ] = None,
    no_personal: NoPersonalOpt = False,
) -> None:
    """The routed REPL: every turn goes to the cheapest adequate model; /help lists the commands."""
    from kilocli.app import App
    from kilocli.chat.app import run_chat

    kilo = App.load()
    if tier is not None:
        _tier(tier, tier)
    raise typer.Exit(
        run_chat(kilo, tier=tier, resume=resume, model=model, personal=not no_personal)
    )


# --------------------------------------------------------------------------------------------
@app.command()
def models(
    tier: TierOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The catalogue as JSON.")] = False,
) -> None:
    """The model pool: prices, context windows, skills, tiers, and which models your keys reach."""
    from kilocli.routing.taxonomy import TIERS

    kilo, router = _context()
    tiers = {name: kilo.tier(name) for name in TIERS}
    if tier is not None:
        _tier(tier, tier)
        tiers = {tier: tiers[tier]}
    reachable = router.reachable
    models_ = [
        m for m in router.catalogue.models.values() if tier is None or m.id in tiers[tier].models
    ]
    if as_json:
        rows = []
        for m in models_:
            rows.append(
                {
                    "id": m.id,
                    "name": m.name,
                    "vendor": m.vendor,
                    "context_window": m.context_window,
                    "price": {
                        "input": m.price.input,
                        "output": m.price.output,
                        "cached_input": m.price.cached_input,
                        "source": m.price.source,
                        "date": m.price.date,
                    },
                    "provider_ids": m.provider_ids,
                    "skills": {
                        f"{t}/{d}": {"value": s.value, "basis": s.basis}
                        for (t, d), s in sorted(m.skills.items())
                    },
                    "tiers": [n for n, p in tiers.items() if m.id in p.models],
                    "reachable_via": None if reachable is None else reachable.get(m.id),
                }
            )
        output.write_answer(json.dumps(rows, indent=2) + "\n")
        return
    from kilocli.render import models_table
    from kilocli.routing.pools import Catalogue

    output.stdout().print(models_table(Catalogue({m.id: m for m in models_}), reachable, tiers))
    if reachable is None:
        output.note(
            "No provider configured: set OPENROUTER_API_KEY, ANTHROPIC_API_KEY or OPENAI_API_KEY, "
            "or `kilo auth set PROVIDER`."
        )


# --------------------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (non-loopback needs --token-env).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0: any free port).")
    ] = 8787,
    tier: TierOpt = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env",
            help="Environment variable holding the bearer token every request must carry.",
        ),
    ] = None,
    grace: Annotated[
        float,
        typer.Option("--grace", min=0, max=3600, help="Seconds in-flight answers get at shutdown."),
    ] = 30.0,
) -> None:
    """Serve the router as an OpenAI- and Anthropic-compatible endpoint for other tools.

    POST /v1/chat/completions and /v1/messages route each request like `kilo ask`.

    Models: kilo-auto, kilo-balanced, kilo-frontier, ... or a catalogue id (see /v1/models).

    Every request is recorded (kilo sessions list shows kind "serve").

    SIGTERM or Ctrl-C lets running answers finish (--grace) and records them.

    Examples:

      kilo serve                                  (http://127.0.0.1:8787/v1)

      OPENAI_BASE_URL=http://127.0.0.1:8787/v1 aider --model openai/kilo-auto

      KILO_SERVE_TOKEN=... kilo serve --host 0.0.0.0 --token-env KILO_SERVE_TOKEN
    """
    from kilocli.serve.auth import resolve_token
    from kilocli.serve.server import run_serve

    token = resolve_token(host, token_env, os.environ)
    kilo, router = _context()
    tier_name = _tier(tier, kilo.settings.tier)
    raise typer.Exit(
        run_serve(kilo, router, host=host, port=port, tier=tier_name, token=token, grace=grace)
    )


# --------------------------------------------------------------------------------------------
@app.command()
def setup() -> None:
    """Prepare the fast encoder once (ONNX export checked against the reference) and centroids."""
    from kilocli.app import App
    from kilocli.routing.encoder import setup_encoder

    kilo = App.load(on_note=output.note)
    paths, settings = kilo.paths, kilo.settings
    model_path = (
        Path(settings.encoder_model_path).expanduser() if settings.encoder_model_path else None
    )
    with output.stderr().status("Preparing the fast encoder...") as status:
        report = setup_encoder(paths, model_path, progress=lambda msg: status.update(msg))
    if report.verified:
        output.stderr().print(f"encoder ready: {report}", markup=False)
    else:
        output.warn(f"the ONNX export failed its check; using the reference encoder: {report}")
    kilo.router().warm()
    output.stderr().print("centroids ready", markup=False)


def _mount_subcommands() -> None:
    from kilocli.commands import auth, config_cmd, examples, sessions, stats

    app.add_typer(auth.app, name="auth", help="API keys: set, list (masked), rm.")
    app.add_typer(
        config_cmd.app, name="config", help="Settings in config.toml: show, set, unset, path."
    )
    app.add_typer(
        sessions.app, name="sessions", help="Transcripts: list, show, search, export, rm."
    )
    app.add_typer(
        examples.app,
        name="examples",
        help="Your corrections as routing examples: list, rm, export.",
    )
    app.registered_commands.extend(stats.app.registered_commands)


def _usage_error_line(exc: Exception) -> str:
    """click's usage errors (vendored by typer or not) as one line naming the command's help."""
    message = exc.format_message()  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{message}{where}"


_OWN_FOLDER = "fix its permissions, or set KILOCLI_HOME to a folder you own"
_ERRNO_ADVICE = {
    errno.EACCES: f"no permission: {_OWN_FOLDER}",
    errno.EPERM: f"not permitted: {_OWN_FOLDER}",
    errno.EROFS: "read-only file system: set KILOCLI_HOME to a writable folder",
    errno.ENOSPC: "the disk is full: free some space and try again",
    errno.ENOTDIR: "a file stands where a folder is needed: move it, or set KILOCLI_HOME elsewhere",
    errno.EEXIST: "a file stands where a folder is needed: move it, or set KILOCLI_HOME elsewhere",
}


def environment_error_line(exc: OSError) -> str:
    """One line for an ordinary environment failure: what, where, and what to do about it."""
    where = exc.filename or "a file kilocli needs"
    advice = _ERRNO_ADVICE.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return f"{where}: {advice}"


def database_error_line(exc: Exception) -> str:
    """One line for a failure of the transcript database (an ``sqlite3.Error``)."""
    from kilocli.config import get_paths

    database = get_paths().database
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return f"{database}: the database is read-only: make it writable, or set KILOCLI_HOME"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return (
            f"{database}: the database is damaged ({exc}); move it aside "
            f"(mv {database} {database}.bad) and kilo starts a new one"
        )
    return f"{database}: database error: {exc}"


def main() -> None:
    """Entry point: every error becomes one line on stderr and its exit code; no tracebacks."""
    try:
        _mount_subcommands()
        # not standalone: click's usage errors reach us, to be printed as one line
        # `--show-completion zsh`: the shell may be named (typer alone only detects it)
        args = explicit_shell_args(sys.argv[1:])
        code = app(args=args, standalone_mode=False, prog_name="kilo")
    except KiloError as exc:
        output.error(exc.message)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        output.error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Terminated as exc:  # SIGTERM/SIGHUP in chat: its turn is recorded already
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            output.error(str(exc))
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not our failure
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:
        if os.environ.get("KILOCLI_DEBUG"):
            raise
        output.error(environment_error_line(exc))
        sys.exit(EXIT_FAILURE)
    except Exception as exc:  # last resort: one line, no locals, no key
        if type(exc).__module__ == "sqlite3" and not os.environ.get("KILOCLI_DEBUG"):
            output.error(database_error_line(exc))  # sqlite3 is not imported up front: cold start
            sys.exit(EXIT_FAILURE)
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            if exc.format_message():  # type: ignore[attr-defined]
                output.error(_usage_error_line(exc))
            else:  # no_args_is_help: click has shown the help already
                getattr(exc, "show", lambda: None)()
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if os.environ.get("KILOCLI_DEBUG"):
            raise
        output.error(
            f"internal error: {type(exc).__name__}: {exc} (set KILOCLI_DEBUG=1 for details)"
        )
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
