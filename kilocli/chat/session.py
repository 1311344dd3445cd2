"""One chat session's state and turn logic, apart from the prompt-toolkit UI (no TTY needed):
what a turn shows goes to a view (kilocli/ui/chat_view.py), which renders it.

The Router loads in a background thread; everything the UI thread calls here is cheap, and
`decide()` runs only on the preview worker or when a turn is sent.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilocli.chat.context import Conversation
from kilocli.chat.spend import Spend
from kilocli.errors import KiloError, UsageError
from kilocli.routing.router import Decision
from kilocli.routing.taxonomy import TIERS
from kilocli.stdin import check_prompt_size

if TYPE_CHECKING:
    from kilocli.budget import BudgetUse
    from kilocli.config import Paths
    from kilocli.engine import Engine, Router
    from kilocli.settings import Settings
    from kilocli.ui.chat_view import ChatView


@dataclass
class RouteState:
    """What routing depends on besides the text; `version` changes whenever any of it does."""

    tier: str
    pin: str | None = None
    version: int = 0

    def bump(self) -> None:
        self.version += 1


@dataclass
class LastTurn:
    prompt: str
    decision: Decision
    outcome: Any | None  # TurnOutcome; None when the turn was interrupted before it returned
    in_context: bool = True  # the exchange was added to the conversation (/retry replaces it)


@dataclass
class Loader:
    """Builds the Router (and warms it) off the UI thread; `wait()` blocks only the first send."""

    build: Callable[[], Router]
    router: Router | None = None
    error: KiloError | None = None
    on_done: Callable[[], None] | None = None  # e.g. refresh the toolbar
    _done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, name="kilo-router-load", daemon=True).start()

    def _run(self) -> None:
        try:
            router = self.build()
            self.router = router
            router.warm()
        except KiloError as exc:
            self.error = exc
        except Exception as exc:  # surfaced as one line at the first send, never a traceback
            self.error = KiloError(f"routing failed to load: {exc}")
        finally:
            self._done.set()
            if self.on_done is not None:
                self.on_done()

    def ready(self) -> bool:
        return self._done.is_set() and self.error is None

    def done(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def wait(self, timeout: float | None = None) -> Router:
        self._done.wait(timeout)
        if self.error is not None:
            raise self.error
        if self.router is None:
            raise KiloError("routing is still loading")
        return self.router


class ChatSession:
    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        *,
        loader: Loader,
        make_engine: Callable[[Router], Engine],
        store: Any,
        view: ChatView,
        tier: str,
        pin: str | None = None,
        cwd: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.loader = loader
        self._make_engine = make_engine
        self._engine: Engine | None = None
        self.store = store
        self.view = view
        self.route = RouteState(tier=tier, pin=pin)
        self.cwd = cwd or Path.cwd()
        self.clock = clock
        self.conversation = Conversation()
        self.spend = Spend()
        self.session_id: str | None = None
        self.current_model: str | None = None
        self.last: LastTurn | None = None
        self.previous_decision: Decision | None = None
        self.should_exit = False
        self.notes: list[str] = []  # from background work, shown at the next prompt
        self._unpriced_frontier: list[Any] = []  # resumed turns (store.TurnRecord) to compare
        self.budgets: list[BudgetUse] = []  # for the toolbar, read after each turn
        self.refresh_budgets()

    # -- plumbing ------------------------------------------------------------------------------
    def refresh_budgets(self) -> None:
        """Budget use from the store (other processes' spend included), for the toolbar: read
        here, after a turn, never while the toolbar redraws."""
        from kilocli import budget

        if not budget.configured(self.settings):
            return
        # a busy or failing database keeps the last figures: the next call checks the store anyway
        with contextlib.suppress(Exception):
            self.budgets = budget.uses(self.settings, self.store.spent(self.session_id))

    @property
    def system(self) -> str | None:
        return self.settings.system_prompt

    def router(self, *, wait: bool = True) -> Router | None:
        if not wait:
            return self.loader.router if self.loader.ready() else None
        if not self.loader.done(0):
            self.view.wait_for(self.loader.done, self.notes, "loading the router")
        return self.loader.wait()

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._make_engine(self.router())
        return self._engine

    def ensure_session(self) -> str:
        if self.session_id is None:
            self.session_id = self.store.new_session("chat", self.route.tier, None)
        return self.session_id

    def note(self, message: str) -> None:
        self.view.note(message)

    def flush_notes(self) -> None:
        while self.notes:
            self.note(self.notes.pop(0))

    # -- routing -------------------------------------------------------------------------------
    def preview_key(self, text: str) -> tuple[str, int]:
        return (text, self.route.version)

    def decide(self, text: str, router: Router | None = None) -> Decision:
        router = router or self.router()
        assert router is not None
        input_tokens = self.conversation.input_tokens(text, self.system)
        return router.decide(
            [*self.conversation.user_turns(), text],
            tier=self.route.tier,
            input_tokens=input_tokens,
            pin=self.route.pin,
            current_model=self.current_model,
            cached_input_tokens=self.cached_prefix(),
            max_cost_usd=self.settings.max_cost_usd,
        )

    def cached_prefix(self) -> int:
        """Prompt tokens the session's model really holds in its provider's cache: what the
        previous turn, with that model, reported read from or written to the cache (at most the
        prefix this turn resends). Zero after a resume, a failed turn or a model change, and on
        providers that report no cache use: the cached price is never assumed."""
        last = self.last.outcome if self.last is not None else None
        if last is None or self.current_model is None or last.model != self.current_model:
            return 0
        really = last.cached_input_tokens + getattr(last, "cache_write_tokens", 0)
        return min(really, self.conversation.cached_prefix_tokens(self.system))

    def preview(self, key: tuple[str, int]) -> Decision | None:
        """The preview worker's job: the decision for this text now (None until routing loads)."""
        router = self.router(wait=False)
        if router is None or key[1] != self.route.version:
            return None
        return self.decide(key[0], router)

    def _fit_context(self, prompt: str, decision: Decision) -> Decision:
        """Trim the oldest turns when the transcript outgrows the chosen model's window."""
        router = self.router()
        spec = router.catalogue.models.get(decision.model) if router else None
        if spec is None:
            return decision
        budget = spec.context_window - min(decision.expected_output_tokens, spec.max_output_tokens)
        if self.conversation.input_tokens(prompt, self.system) <= budget:
            return decision
        dropped = self.conversation.trim_to(budget, prompt, self.system)
        if dropped:
            self.note(
                f"context: dropped the {dropped} oldest turn{'s' if dropped != 1 else ''} to fit "
                f"{decision.model}'s {spec.context_window:,}-token window"
            )
            return self.decide(prompt)
        return decision

    # -- turns ---------------------------------------------------------------------------------
    def send(self, prompt: str, *, decision: Decision | None = None) -> Any | None:
        """Route (unless a decision is given), stream, record, and print the status line."""
        check_prompt_size(prompt, "prompt")
        if decision is None:
            decision = self.decide(prompt)
        decision = self._fit_context(prompt, decision)
        self.view.route_changed(self.previous_decision, decision)
        engine = self.engine()
        session_id = self.ensure_session()
        history = self.conversation.messages
        stream = self.view.answer(decision.model)
        started = self.clock()
        outcome = None
        try:
            with stream:
                outcome = engine.run_turn(
                    session_id,
                    history,
                    prompt,
                    decision,
                    system=self.conversation.system_blocks(self.system),
                    files=list(self.conversation.files),
                    on_text=stream.feed,
                    on_notice=lambda m: self.view.notice(stream, m),
                )
        except KeyboardInterrupt:
            # Ctrl-C outside the engine's own handling: keep what came, in the context too
            if stream.text:
                self.conversation.add_exchange(prompt, stream.text)
            self.view.stopped(len(stream.text), self.clock() - started)
            self._after(prompt, decision, decision.model, None, in_context=bool(stream.text))
            return None
        return self._finish(prompt, decision, outcome)

    def _finish(self, prompt: str, decision: Decision, outcome: Any) -> Any:
        if outcome.answer:
            self.conversation.add_exchange(prompt, outcome.answer)
        if outcome.status == "interrupted":
            self.view.stopped(len(outcome.answer), outcome.duration_ms / 1000)
        else:
            self.view.failed(outcome)
        if outcome.status == "ok" or _has_usage(outcome):
            self.spend.add(outcome.model, outcome.cost_usd, outcome.frontier_cost_usd)
            self.view.status(outcome, self.spend)
        # a failed call leaves the session's model as it was: nothing was cached on the new one
        model = outcome.model if (outcome.answer or outcome.status == "ok") else self.current_model
        self._after(prompt, decision, model, outcome, in_context=bool(outcome.answer))
        return outcome

    def _after(
        self,
        prompt: str,
        decision: Decision,
        model: str | None,
        outcome: Any | None,
        *,
        in_context: bool,
    ) -> None:
        self.current_model = model
        self.previous_decision = decision
        self.last = LastTurn(prompt, decision, outcome, in_context)
        self.refresh_budgets()
        self.route.bump()  # the transcript changed: the preview must be recomputed

    def router_ready(self) -> None:
        """Called by the loader thread: price resumed turns at the frontier model's rates."""
        router = self.router(wait=False)
        if router is None:
            return
        from kilocli.routing.cost import usage_cost

        while self._unpriced_frontier:
            turn = self._unpriced_frontier.pop(0)
            frontier = (turn.decision or {}).get("frontier_model")
            spec = router.catalogue.models.get(frontier) if frontier else None
            if spec is None or not (turn.input_tokens or turn.output_tokens):
                continue
            cost = usage_cost(
                spec, turn.input_tokens or 0, turn.output_tokens or 0, turn.cached_input_tokens or 0
            )
            self.spend.add_frontier(turn.model, turn.cost_usd, cost)

    def retry(self, *, up: bool) -> None:
        if self.last is None:
            raise UsageError("/retry: nothing to retry yet")
        last = self.last
        decision: Decision | None = last.decision
        if up:
            router = self.router()
            assert router is not None
            decision = router.stronger(last.decision)
            if decision is None:
                raise UsageError(
                    f"/retry --up: {last.decision.model} is already the strongest candidate"
                )
            # the routed model was too weak for this request: a correction (one level harder)
            from kilocli.routing.personal import escalated_label

            self.record_correction(
                *escalated_label(last.decision.task, last.decision.difficulty),
                "retry-up",
                model=decision.model,
            )
        if last.in_context:
            self.conversation.pop_exchange()
        if not up:
            decision = None  # re-route: same text, same context, maybe a new sticky choice
        self.send(last.prompt, decision=decision)

    def record_correction(
        self, task: str, difficulty: str, source: str, *, model: str | None = None
    ) -> int:
        """Store a label for the last turn's prompt (/wrong, /retry --up); the next turns route
        with it."""
        if self.last is None:
            raise UsageError("no turn yet to correct")
        last = self.last
        turn_id = getattr(last.outcome, "turn_id", None)
        cid = self.store.add_correction(
            last.prompt,
            task,
            difficulty,
            source,
            turn_id=turn_id,
            routed=last.decision.to_json(),
            model=model,
        )
        router = self.router(wait=False)
        if router is not None:
            router.refresh_personal()
        self.route.bump()
        return cid

    # -- resume ------------------------------------------------------------------------------
    def resume(self, ref: str, *, use_its_tier: bool = False) -> None:
        """Print a stored session's turns and continue with its context ('last' or an id prefix)."""
        record = self.store.session(self.store.resolve(ref, kind="chat") if ref == "last" else ref)
        self.session_id = record.id
        if use_its_tier and record.tier in TIERS:
            self.route.tier = record.tier
        self.view.session_header(record.id, len(record.turns))
        for turn in record.turns:
            self.view.past_turn(turn)
            if turn.answer:
                self.conversation.add_exchange(turn.prompt, turn.answer)
            if turn.model and (turn.status == "ok" or turn.input_tokens or turn.output_tokens):
                # the frontier comparison is priced from real usage once the catalogue is loaded
                self.spend.add(turn.model, turn.cost_usd, None)
                self._unpriced_frontier.append(turn)
            if turn.model and turn.answer:
                self.current_model = turn.model
            decision = decision_from_json(turn.decision)
            if decision is not None:
                self.previous_decision = decision
                self.last = LastTurn(turn.prompt, decision, None, in_context=bool(turn.answer))
        self.refresh_budgets()
        self.route.bump()
        self.note(f"resumed: {len(self.conversation)} exchanges in context; /clear starts afresh")


def decision_from_json(data: dict[str, Any] | None) -> Decision | None:
    """A stored decision as a Decision (/explain after --resume); None if the shape changed."""
    from kilocli.routing.router import Candidate

    if not data:
        return None
    try:
        fields = dict(data)
        fields["candidates"] = [Candidate(**c) for c in fields.get("candidates", [])]
        return Decision(**fields)
    except TypeError:
        return None


def _has_usage(outcome: Any) -> bool:
    """The provider reported token counts (a cut or failed call may not have)."""
    return bool(outcome.input_tokens or outcome.output_tokens)
