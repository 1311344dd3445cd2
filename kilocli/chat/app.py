"""`kilo chat`: the prompt-toolkit REPL around a ChatSession.

Start-up order is the point of this module: the prompt is built and shown first; the Router
(catalogue, ONNX encoder, centroids) loads in a background thread, and the first send waits for it
only if it must. Routing for the toolbar preview runs on a worker thread; the UI thread never
calls decide().
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style

from kilocli.chat.handlers import REGISTRY, session_summary
from kilocli.chat.session import ChatSession, Loader
from kilocli.chat.slash import SlashRegistry, is_slash
from kilocli.chat.toolbar import PreviewWorker
from kilocli.errors import KiloError, UsageError
from kilocli.routing.cost import format_usd
from kilocli.routing.router import Decision
from kilocli.signals import termination_unwinds
from kilocli.ui.chat_view import ChatView

if TYPE_CHECKING:
    from kilocli.app import App

PROMPT = "kilo› "
STYLE = Style.from_dict(
    {
        "prompt": "bold ansicyan",
        "continuation": "ansibrightblack",
        "bottom-toolbar": "noreverse bg:#262626 #d0d0d0",
        "bottom-toolbar.dim": "#8a8a8a",
        "bottom-toolbar.model": "bold #87d787",
        "bottom-toolbar.cost": "#ffd787",
        "bottom-toolbar.warn": "#ff8787",
    }
)


class ChatCompleter(Completer):
    """Tab completion for slash commands and their arguments (tiers, model ids, paths)."""

    def __init__(self, session: ChatSession, registry: SlashRegistry[ChatSession]) -> None:
        self.session = session
        self.registry = registry

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        text = document.text_before_cursor
        if "\n" in text or not text.startswith("/"):
            return
        naming = " " not in text
        for replacement, start in self.registry.completions(self.session, text):
            meta = ""
            if naming:
                cmd = self.registry.lookup(replacement[1:])
                meta = cmd.help if cmd else ""
            yield Completion(replacement, start_position=start, display_meta=meta)


class ChatUI:
    def __init__(
        self,
        session: ChatSession,
        *,
        registry: SlashRegistry[ChatSession] = REGISTRY,
        history: History | None = None,
        input: Input | None = None,
        output: Output | None = None,
        debounce: float = 0.15,
    ) -> None:
        self.s = session
        self.registry = registry
        self.worker: PreviewWorker[Decision | None] = PreviewWorker(
            session.preview,
            self._invalidate,
            debounce=debounce,  # type: ignore[arg-type]
        )
        self.prompt: PromptSession[str] = PromptSession(
            message=[("class:prompt", PROMPT)],
            multiline=True,
            prompt_continuation=lambda width, line, soft: [
                ("class:continuation", "… ".rjust(width))
            ],
            key_bindings=_key_bindings(),
            bottom_toolbar=self._toolbar,
            completer=ChatCompleter(session, registry),
            complete_while_typing=Condition(self._typing_command),
            history=history or InMemoryHistory(),
            style=STYLE,
            vi_mode=session.settings.chat.vi_mode,
            enable_suspend=True,
            input=input,
            output=output,
        )
        self.prompt.default_buffer.on_text_changed += self._on_change
        self._warned_load = False

    def after_first_render(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the prompt is on screen (heavy loading must not delay it)."""

        def once(_: object) -> None:
            self.prompt.app.after_render -= once
            action()

        self.prompt.app.after_render += once

    # -- UI-thread callbacks: cheap ------------------------------------------------------------
    def _invalidate(self) -> None:
        app = self.prompt.app
        if app.is_running:
            app.invalidate()

    def router_loaded(self) -> None:
        """Called by the loader thread: refresh the toolbar, preview what is already typed."""
        self._request_preview(self.prompt.default_buffer.text, force=True)
        self._invalidate()

    def _typing_command(self) -> bool:
        text = self.prompt.default_buffer.text
        return text.startswith("/") and "\n" not in text

    def _on_change(self, buffer: Any) -> None:
        self._request_preview(buffer.text)

    def _request_preview(self, text: str, *, force: bool = False) -> None:
        if text.strip() and not is_slash(text.strip()):
            self.worker.submit(self.s.preview_key(text), force=force)

    def _toolbar(self) -> StyleAndTextTuples:
        return toolbar_fragments(
            self.s, self.registry, self.prompt.default_buffer.text, self.worker
        )

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        default = ""
        # Ctrl-C must stop an answer even when kilo was started with SIGINT ignored (a background
        # job, some CI runners): then Python installs no handler of its own, so install it here
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            # SIGTERM / SIGHUP (a closed terminal) unwind: the turn in flight is recorded
            with termination_unwinds():
                while not self.s.should_exit:
                    self.s.flush_notes()
                    try:
                        text = self.prompt.prompt(default=default)
                    except KeyboardInterrupt:
                        default = ""
                        continue
                    except EOFError:
                        break
                    default = ""
                    line = text.strip()
                    if not line:
                        continue
                    try:
                        if is_slash(line):
                            self.registry.dispatch(self.s, line)
                        else:
                            self.s.send(text)
                    except KiloError as exc:
                        self.s.view.error(f"error: {exc.message}")
                    except Exception as exc:  # one broken command must not end the session
                        if os.environ.get("KILOCLI_DEBUG"):
                            raise
                        self.s.view.error(
                            f"internal error: {type(exc).__name__}: {exc}", internal=True
                        )
                    except KeyboardInterrupt:
                        # before the call started (routing still loading): give the text back
                        default = "" if is_slash(line) else text
                        self.s.note("cancelled")
        finally:
            self.worker.close()
        self._goodbye()
        return 0

    def _goodbye(self) -> None:
        if self.s.spend.turns:
            self.s.view.print(session_summary(self.s))
        if self.s.session_id:
            self.s.note(f"resume with: kilo chat --resume {self.s.session_id}")


def toolbar_fragments(
    s: ChatSession, registry: SlashRegistry[ChatSession], text: str, worker: PreviewWorker[Any]
) -> StyleAndTextTuples:
    """The bottom line: tier · task/difficulty · model · est. cost │ session spend · saving."""
    frags: StyleAndTextTuples = [("class:bottom-toolbar.dim", f" {s.route.tier}")]
    if s.route.pin:
        frags.append(("class:bottom-toolbar.dim", f" · pinned {s.route.pin}"))
    line = text.strip()
    if is_slash(line):
        name = line[1:].split(maxsplit=1)[0]
        cmd = registry.lookup(name)
        if cmd is None and " " not in line:  # still typing the name: a unique prefix is enough
            matches = {c.name for c in registry if c.name.startswith(name)}
            cmd = registry.lookup(matches.pop()) if len(matches) == 1 else None
        if cmd is not None:
            frags.append(("", f" · {cmd.synopsis}: {cmd.help}"))
        elif " " not in line and any(c.name.startswith(name) for c in registry):
            names = sorted("/" + c.name for c in registry if c.name.startswith(name))
            frags.append(("class:bottom-toolbar.dim", " · " + "  ".join(names)))
        else:
            hint = registry.closest(name)
            frags.append(
                (
                    "class:bottom-toolbar.warn",
                    f" · unknown /{name}" + (f" (/{hint}?)" if hint else ""),
                )
            )
    elif s.loader.error is not None:
        frags.append(
            ("class:bottom-toolbar.warn", f" · routing unavailable: {s.loader.error.message}")
        )
    elif not s.loader.ready():
        why = f": {s.notes[-1]}" if s.notes else ""
        frags.append(("class:bottom-toolbar.dim", f" · routing loads…{why}"))
    elif line:
        frags.extend(_preview_fragments(s, text, worker))
    elif s.last is not None:
        d = s.last.decision
        frags.append(("class:bottom-toolbar.dim", f" · last: {d.task}/{d.difficulty} → {d.model}"))
    if s.spend.turns:
        total = format_usd(s.spend.total)
        frags.append(("class:bottom-toolbar.dim", "  │  session "))
        frags.append(("class:bottom-toolbar.cost", total))
        saving = s.spend.saving
        if saving is not None and saving > 0:
            frags.append(("class:bottom-toolbar.dim", f" · saved {format_usd(saving)} vs frontier"))
    if s.budgets:
        from kilocli.budget import short

        near = any(b.spent_usd >= 0.8 * b.limit_usd for b in s.budgets)
        frags.append(("class:bottom-toolbar.dim", "  │  budget "))
        frags.append(("class:bottom-toolbar." + ("warn" if near else "cost"), short(s.budgets)))
    return frags


def _preview_fragments(s: ChatSession, text: str, worker: PreviewWorker[Any]) -> StyleAndTextTuples:
    latest = worker.latest
    if latest is None:
        return [("class:bottom-toolbar.dim", " · routing…")]
    if latest.error:
        return [("class:bottom-toolbar.warn", f" · {latest.error}")]
    decision: Decision | None = latest.value
    if decision is None:
        return [("class:bottom-toolbar.dim", " · routing…")]
    stale = latest.key != s.preview_key(text)  # older text: shown dim until the new one lands
    dim = "class:bottom-toolbar.dim"
    frags: StyleAndTextTuples = [
        (dim, f" · {decision.task}/{decision.difficulty} → "),
        (dim if stale else "class:bottom-toolbar.model", decision.model),
        (dim, " · est. "),
        (dim if stale else "class:bottom-toolbar.cost", format_usd(decision.estimated_cost_usd)),
    ]
    if decision.no_provider_configured:
        frags.append(("class:bottom-toolbar.warn", " · no provider configured (kilo auth set)"))
    return frags


def _key_bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _send(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        state = buf.complete_state
        if state is not None and state.current_completion is not None:
            buf.complete_state = None  # Enter on a menu item accepts it...
            if state.current_completion.text.endswith("/"):
                return  # ...and a folder is not the end of a path: keep typing
        buf.validate_and_handle()

    @kb.add("escape", "enter")  # Alt+Enter arrives as Esc, Enter; Esc then Enter too
    @kb.add("c-j")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return kb


# -- entry point ---------------------------------------------------------------------------------
def run_chat(
    kilo: App,
    *,
    tier: str | None,
    resume: str | None,
    model: str | None,
    transport: Any = None,
    personal: bool = True,
) -> int:
    """`kilo chat [--resume ID|last] [--tier NAME] [--model ID]`; returns the exit code."""
    from kilocli import output
    from kilocli.routing.taxonomy import unknown_tier

    if not sys.stdin.isatty():
        raise UsageError("kilo chat needs a terminal on stdin; for piped input use kilo ask")
    if tier is not None and (problem := unknown_tier(tier)):
        raise UsageError(f"--tier: {problem}")
    paths, settings = kilo.paths, kilo.settings
    session = build_session(
        kilo,
        tier=tier or settings.tier,
        model=model,
        transport=transport,
        view=ChatView(output.stdout(), output.stderr()),
        personal=personal,
    )
    if resume:
        session.resume(resume, use_its_tier=tier is None)
    history: History | None = None
    if settings.chat.history:
        paths.history_file.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(paths.history_file))
    ui = ChatUI(session, history=history)

    def loaded() -> None:  # on the loader thread
        session.router_ready()
        ui.router_loaded()

    session.loader.on_done = loaded
    # the encoder's imports hold the GIL for a while: start them once the prompt is drawn
    ui.after_first_render(session.loader.start)
    return ui.run()


def build_session(
    kilo: App,
    *,
    tier: str,
    model: str | None,
    transport: Any,
    view: ChatView,
    cwd: Path | None = None,
    personal: bool = True,
) -> ChatSession:
    holder: dict[str, ChatSession] = {}

    def note(message: str) -> None:  # router notes arrive on the loader thread: show them later
        holder["s"].notes.append(message)

    def build() -> Any:
        router = kilo.router(on_note=note, personal=personal)
        if model is not None and model not in router.catalogue.models:
            holder["s"].route.pin = None
            note(
                f"--model: unknown model {model!r}; routing per turn instead "
                "(kilo models lists them)"
            )
        return router

    def make_engine(router: Any) -> Any:
        return kilo.engine(store, transport=transport)

    store = kilo.store()
    session = ChatSession(
        kilo.paths,
        kilo.settings,
        loader=Loader(build),
        make_engine=make_engine,
        store=store,
        view=view,
        tier=tier,
        pin=model,
        cwd=cwd,
    )
    holder["s"] = session
    return session
