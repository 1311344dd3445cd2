"""`kilo ask`: one routed, streamed answer; the answer on stdout, everything else on stderr."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilocli import output
from kilocli.attachments import AttachmentProblem, file_block, read_attachment
from kilocli.chat.context import Conversation
from kilocli.errors import UsageError
from kilocli.routing.router import Decision
from kilocli.signals import Terminated, termination_unwinds
from kilocli.stdin import check_prompt_size
from kilocli.ui.answer import AnswerSink
from kilocli.ui.lines import outcome_line, summary_line

if TYPE_CHECKING:
    from kilocli.app import App
    from kilocli.continuation import Continuation
    from kilocli.engine import Router


def attach_files(prompt: str, files: Sequence[Path]) -> str:
    """Append each file as a delimited block, refusing missing, binary or huge files by name."""
    blocks = [prompt]
    for path in files:
        try:
            text = read_attachment(path)
        except AttachmentProblem as problem:
            raise UsageError(_file_flag_error(path, problem)) from None
        blocks.append(file_block(str(path), text))
    return check_prompt_size("\n\n".join(blocks), "prompt")


def _file_flag_error(path: Path, problem: AttachmentProblem) -> str:
    """The one-line error naming --file and the path (the wording kilo ask always had)."""
    return {
        "missing": f"--file: no such file: {path}",
        "unreadable": f"--file: cannot read {path}: {problem.detail}",
        "directory": f"--file: {path} is a directory",
        "special": f"--file: {path} is {problem.detail}, not a regular file; "
        "pipe it to stdin instead",
        "too_big": f"--file: {path} is over {problem.detail}",
        "binary": f"--file {path}: binary data (NUL bytes), not text",
        "not_utf8": f"--file {path}: not UTF-8 text (bad byte at offset {problem.detail})",
    }[problem.kind]


@contextmanager
def _ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """The first Ctrl-C stops the stream cleanly (the partial answer is kept and recorded);
    a second one interrupts at once."""

    def on_sigint(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: leave Ctrl-C as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _fit_window(
    router: Router,
    conversation: Conversation,
    prompt: str,
    system: str | None,
    decision: Decision,
    decide: Callable[[], Decision],
) -> Decision:
    """Drop the oldest exchanges when a continued session outgrows the chosen model's window."""
    spec = router.catalogue.models.get(decision.model)
    if spec is None or not len(conversation):
        return decision
    budget = spec.context_window - min(decision.expected_output_tokens, spec.max_output_tokens)
    dropped = conversation.trim_to(budget, prompt, system)
    if not dropped:
        return decision
    output.note(
        f"context: dropped the {dropped} oldest turn{'s' if dropped != 1 else ''} to fit "
        f"{decision.model}'s {spec.context_window:,}-token window"
    )
    return decide()


def run_ask(
    kilo: App,
    router: Router,
    *,
    prompt: str,
    tier: str,
    system: str | None,
    pin: str | None,
    max_cost_usd: float | None,
    stream: bool,
    as_json: bool,
    transport: Any = None,
    force: bool = False,
    timeout_s: float | None = None,
    files: Sequence[str] = (),
    continuation: Continuation | None = None,
    up: bool = False,
) -> int:
    """``up``: route as usual, then take the next stronger model (kilo ask --up); the request is
    recorded as a correction (one level harder than it was classified)."""
    system = system if system is not None else kilo.settings.system_prompt
    conversation = continuation.conversation if continuation else Conversation()
    current_model = continuation.current_model if continuation else None
    if continuation is not None:
        n = continuation.turns
        output.note(
            f"continuing session {continuation.session_id} "
            f"({n} turn{'s' if n != 1 else ''}, {len(conversation)} answered, in context)"
        )

    def decide() -> Decision:
        # as chat does: the session's user turns give the classifier its context, the model that
        # answered last is kept while adequate (its cached prefix priced as cached)
        return router.decide(
            [*conversation.user_turns(), prompt],
            tier=tier,
            input_tokens=conversation.input_tokens(prompt, system),
            pin=pin,
            current_model=current_model,
            cached_input_tokens=conversation.cached_prefix_tokens(system) if current_model else 0,
            max_cost_usd=max_cost_usd,
            force=force,
        )

    decision = _fit_window(router, conversation, prompt, system, decide(), decide)
    routed = decision
    if up:
        stronger = router.stronger(decision)
        if stronger is None:
            output.warn(f"--up: {decision.model} is already the strongest candidate; using it")
        else:
            decision = stronger
            output.note(f"--up: {decision.reason}")
    output.stderr().print(summary_line(decision), markup=False, highlight=False, style="dim")
    store = kilo.store()
    engine = kilo.engine(store, transport=transport)
    if continuation is not None:
        session_id = continuation.session_id
    else:
        title = prompt.strip().splitlines()[0][:80]
        session_id = store.new_session("ask", tier, title)
    markdown = not as_json and not output.is_plain(output.stdout())
    sink = AnswerSink(markdown=markdown, buffered=as_json or not stream)
    cancel = threading.Event()
    try:
        with _ctrl_c_cancels(cancel), termination_unwinds():
            outcome = engine.run_turn(
                session_id,
                conversation.messages,
                prompt,
                decision,
                system=system,
                on_text=sink,
                on_notice=output.warn,
                cancel=cancel,
                allow_fallback=pin is None,
                stream=stream,
                timeout_s=timeout_s,
                files=files,
            )
    except Terminated as exc:  # SIGTERM/SIGHUP: the turn is recorded; report it like Ctrl-C
        if exc.outcome is None:
            raise
        outcome = exc.outcome
    finally:
        if not as_json:
            sink.close()
    if up:
        from kilocli.routing.personal import escalated_label

        store.add_correction(
            prompt,
            *escalated_label(routed.task, routed.difficulty),
            "ask-up",
            turn_id=outcome.turn_id,
            routed=routed.to_json(),
            model=decision.model,
        )
    if as_json:
        obj = {
            "answer": outcome.answer,
            "status": outcome.status,
            "model": outcome.model,
            "provider": outcome.provider,
            "decision": decision.to_json(),
            "usage": {
                "input_tokens": outcome.input_tokens,
                "output_tokens": outcome.output_tokens,
                "cached_input_tokens": outcome.cached_input_tokens,
                "cache_write_tokens": outcome.cache_write_tokens,
                "reasoning_tokens": outcome.reasoning_tokens,
            },
            "cost_usd": outcome.cost_usd,
            "estimated_cost_usd": decision.estimated_cost_usd,
            "duration_ms": outcome.duration_ms,
            "session_id": session_id,
            "error": outcome.error,
        }
        output.write_answer(json.dumps(obj, ensure_ascii=False) + "\n")
    if outcome.status == "ok":
        output.stderr().print(outcome_line(outcome), markup=False, highlight=False, style="dim")
    elif outcome.status in ("incomplete", "interrupted"):
        kept = f"; kept {len(outcome.answer)} characters (kilo sessions show {session_id})"
        output.error(f"answer {outcome.status}: {outcome.error}{kept if outcome.answer else ''}")
    else:
        output.error(outcome.error or "the call failed")
    sys.stdout.flush()
    return outcome.exit_code
