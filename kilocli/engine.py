"""The glue of one turn, shared by `kilo route`, `kilo ask` and `kilo chat`.

Router: encoder + classifier + pools + the pure route() function, loaded lazily and thread-safe.
Engine: a decided turn -> provider call with retries/fallback -> the store, in one place.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilocli.config import Paths
from kilocli.routing.classifier import Classification
from kilocli.routing.cost import count_tokens
from kilocli.routing.pools import (
    Catalogue,
    TierPool,
    load_catalogue,
    load_pool_file,
    load_tier,
    with_bar_shift,
)
from kilocli.routing.router import Constraints, Decision, RouteRequest, route
from kilocli.routing.taxonomy import QUALITY_SHIFTS

if TYPE_CHECKING:
    from kilocli.providers.base import Event, Message, UsageReport
    from kilocli.providers.runner import Attempt
    from kilocli.routing.classifier import Classifier
    from kilocli.settings import Settings
    from kilocli.signals import Terminated
    from kilocli.store import Store

Note = Callable[[str], None]


def _silent(_: str) -> None:
    pass


class Router:
    """Everything needed to decide a turn; heavy parts load once, on first need or in `warm()`."""

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        *,
        on_note: Note | None = None,
        pool_file: Path | None = None,
        env: dict[str, str] | None = None,
        personal: bool = True,
    ) -> None:
        self.paths = paths
        self.personal = personal  # False: --no-personal, route without the user's corrections
        self._base: Classifier | None = None
        self._cache_paths: Paths = paths  # the cache in use (a temporary one if unwritable)
        self.settings = settings
        self.on_note = on_note or _silent
        self.pool_file = pool_file
        self._env = env
        self._lock = threading.RLock()  # classifier -> base_classifier nests
        self._classifier: Classifier | None = None
        self.catalogue: Catalogue = load_catalogue(paths)
        self._tiers: dict[str, TierPool] = {}
        # --pool FILE replaces the tier's pool (the frontier comparison still uses its tier)
        self._pool_override = load_pool_file(pool_file, self.catalogue) if pool_file else None
        self._reachable: dict[str, str] | bool | None = False  # False = not computed yet
        self._providers: list[Any] | None = None

    # -- loading -----------------------------------------------------------------------------
    def warm(self) -> None:
        self.classifier  # noqa: B018 - loads encoder and centroids

    def ready(self) -> bool:
        return self._classifier is not None

    @property
    def classifier(self) -> Classifier:
        """The classifier routing uses: the built-in examples plus, unless --no-personal, the
        user's corrections as personal examples."""
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    self._classifier = self._personalise(self.base_classifier)
        return self._classifier

    @property
    def base_classifier(self) -> Classifier:
        """The classifier of the built-in examples alone."""
        if self._base is None:
            with self._lock:
                if self._base is None:
                    from kilocli.cache_dir import usable_cache
                    from kilocli.routing.classifier import Classifier
                    from kilocli.routing.encoder import load_encoder

                    # routing needs only the cache: an unwritable one must not stop it
                    self._cache_paths = usable_cache(self.paths, self.on_note)
                    model_path = self.settings.encoder_model_path
                    encoder = load_encoder(
                        self._cache_paths,
                        Path(model_path).expanduser() if model_path else None,
                        on_note=self.on_note,
                    )
                    self._base = Classifier.load(encoder, self._cache_paths.cache_dir)
        return self._base

    def _personalise(self, base: Classifier) -> Classifier:
        if not self.personal:
            return base
        from kilocli.personal_io import cache_file, personal_vectors, read_personal
        from kilocli.routing.classifier import embed_texts, embedding_key

        try:
            examples = read_personal(self.paths)
        except Exception as exc:  # a damaged or read-only store must not stop a dry run
            if not _store_failure(exc):
                raise
            self.on_note(f"routing without your corrections: {exc}")
            return base
        if not examples:
            return base
        vectors = personal_vectors(
            examples,
            lambda texts: embed_texts(base.encoder, texts),
            cache_file(self._cache_paths, embedding_key(base.encoder)),
            int(base.encoder.dim),
        )
        return base.personalised(examples, vectors)

    def refresh_personal(self) -> None:
        """Re-read the corrections (after /wrong or /retry --up): the next turn routes with them."""
        if self._base is None:
            return  # not loaded yet: the first load reads them
        fresh = self._personalise(self._base)
        with self._lock:
            self._classifier = fresh

    def tier(self, name: str) -> TierPool:
        if name not in self._tiers:
            pool = load_tier(name, self.catalogue, self.paths)
            if pool.rule == "cheapest_adequate":
                pool = with_bar_shift(pool, QUALITY_SHIFTS[self.settings.quality])
            self._tiers[name] = pool
        return self._tiers[name]

    @property
    def reachable(self) -> dict[str, str] | None:
        """Model id -> provider serving it; None when no provider is configured at all."""
        if self._reachable is False:
            from kilocli.providers.registry import reachable_models

            providers = self.providers()
            self._reachable = reachable_models(self.catalogue, providers) if providers else None
        return self._reachable  # type: ignore[return-value]

    def providers(self) -> list[Any]:
        """The configured providers, in serving order (read once: keys file and environment)."""
        if self._providers is None:
            import os

            from kilocli.keys import get_key
            from kilocli.providers.registry import configured_providers

            env = self._env if self._env is not None else dict(os.environ)
            self._providers = configured_providers(
                self.settings.providers_as_dicts(),
                lambda var: get_key(var, self.paths, env=env),
                env,
                order=self.settings.provider_order,
            )
        return self._providers

    # -- deciding ----------------------------------------------------------------------------
    def pool_for(self, tier: str) -> TierPool:
        return self._pool_override or self.tier(tier)

    def decide(
        self,
        user_turns: Sequence[str],
        *,
        tier: str,
        input_tokens: int | None = None,
        pin: str | None = None,
        current_model: str | None = None,
        cached_input_tokens: int = 0,
        max_cost_usd: float | None = None,
        exclude: Sequence[str] = (),
        classification: Classification | None = None,
        force: bool = False,
    ) -> Decision:
        moved: str | None = None
        if classification is None:
            classification = self.classifier.classify(list(user_turns))
            moved = self._personal_effect(list(user_turns), classification)
        if input_tokens is None:
            input_tokens = sum(count_tokens(t) for t in user_turns)
        decision = self.decide_classified(
            classification,
            tier=tier,
            input_tokens=input_tokens,
            pin=pin,
            current_model=current_model,
            cached_input_tokens=cached_input_tokens,
            max_cost_usd=max_cost_usd,
            exclude=exclude,
            force=force,
        )
        if moved is not None:
            decision = replace(decision, notes=[*decision.notes, moved])
        return decision

    def _personal_effect(self, turns: list[str], personal: Classification) -> str | None:
        """A note when the personal examples changed the classification (compared with the
        built-in examples alone), naming the most similar ones; None when they did not."""
        classifier = self.classifier
        if not classifier.personal:
            return None
        base = self.base_classifier.classify(turns)  # turn vectors come from the shared memo
        if (base.task, base.difficulty) == (personal.task, personal.difficulty):
            return None
        nearest = ", ".join(
            f"#{e.id} {e.task}/{e.difficulty}" for e, _ in classifier.nearest_personal(turns[-1])
        )
        return (
            f"your corrections moved this from {base.task}/{base.difficulty} to "
            f"{personal.task}/{personal.difficulty} (most similar: {nearest}; "
            "--no-personal routes without them)"
        )

    def decide_classified(
        self,
        classification: Classification,
        *,
        tier: str,
        input_tokens: int,
        pin: str | None = None,
        current_model: str | None = None,
        cached_input_tokens: int = 0,
        max_cost_usd: float | None = None,
        exclude: Sequence[str] = (),
        force: bool = False,
    ) -> Decision:
        pool = self.pool_for(tier)
        notes: list[str] = []
        reachable = self.reachable
        if reachable is not None and pin is None and not any(m in reachable for m in pool.models):
            # e.g. only a local Ollama: serve the user from the free tier rather than refuse
            free = self.tier("free")
            if any(m in reachable for m in free.models):
                notes.append(
                    f"none of the {pool.name} tier's models is reachable with your providers; "
                    "using the free tier"
                )
                pool = free
        frontier = self.tier("frontier")
        constraints = Constraints(
            reachable=self.reachable,
            exclude=frozenset([*self.settings.exclude, *exclude]),
            pin=pin,
            max_cost_usd=max_cost_usd if max_cost_usd is not None else self.settings.max_cost_usd,
            current_model=current_model,
            cached_input_tokens=cached_input_tokens,
            force=force,
        )
        decision = route(
            classification,
            RouteRequest(input_tokens=input_tokens),
            pool,
            self.catalogue,
            constraints,
            frontier=frontier,
        )
        if self.pool_file is not None:
            decision = replace(decision, tier=f"{tier} (pool {self.pool_file.name})")
        if notes:
            decision = replace(decision, tier=pool.name, notes=[*notes, *decision.notes])
        return decision

    def stronger(self, decision: Decision) -> Decision | None:
        """The cheapest reachable model more skilled than the decision's for the same cell, from
        the tier's pool and the frontier tier (for `/retry --up`); None when nothing is stronger."""
        from kilocli.routing.cost import estimate_cost

        cell = (decision.task, decision.difficulty)
        current = self.catalogue.models.get(decision.model)
        floor = current.skills[cell].value if current and cell in current.skills else -1.0
        tier = decision.tier if decision.tier in self._tier_names() else self.settings.tier
        names = dict.fromkeys([*self.pool_for(tier).models, *self.tier("frontier").models])
        reachable = self.reachable
        best: tuple[float, float, str] | None = None
        for model_id in names:
            spec = self.catalogue.models.get(model_id)
            if spec is None or cell not in spec.skills or model_id in self.settings.exclude:
                continue
            if reachable is not None and model_id not in reachable:
                continue
            skill = spec.skills[cell].value
            if skill <= floor:
                continue
            cost = estimate_cost(spec.price, decision.input_tokens, decision.expected_output_tokens)
            key = (float("inf") if cost is None else cost, -skill, model_id)
            if best is None or key < best:
                best = key
        if best is None:
            return None
        cost, neg_skill, model_id = best
        return replace(
            decision,
            model=model_id,
            provider=None if reachable is None else reachable.get(model_id),
            estimated_cost_usd=None if cost == float("inf") else cost,
            skill=-neg_skill,
            fallback_used=False,
            sticky=False,
            pinned=False,
            reason=(
                f"retry with a stronger model: {model_id} (skill {-neg_skill:.2f} for "
                f"{decision.task}/{decision.difficulty}, was {decision.model} {max(floor, 0):.2f})"
            ),
        )

    @staticmethod
    def _tier_names() -> tuple[str, ...]:
        from kilocli.routing.taxonomy import TIERS

        return TIERS

    def decide_many(self, prompts: Sequence[str], *, tier: str, **kwargs: Any) -> list[Decision]:
        """Independent one-turn prompts, encoded in batches (kilo route --batch)."""
        classifications = self.classifier.classify_many(list(prompts))
        return [
            self.decide_classified(c, tier=tier, input_tokens=count_tokens(p), **kwargs)
            for p, c in zip(prompts, classifications, strict=True)
        ]


def _store_failure(exc: Exception) -> bool:
    """The database could not be read (sqlite3 is imported only where the store is used)."""
    from kilocli.errors import KiloError

    return isinstance(exc, (KiloError, OSError)) or type(exc).__module__ == "sqlite3"


# ---------------------------------------------------------------------------------------------
# Engine: one decided turn -> provider (retries, fallback) -> store


@dataclass
class TurnOutcome:
    turn_id: int
    answer: str
    status: str  # ok | incomplete | error | interrupted
    decision: Decision
    model: str
    provider: str | None
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    duration_ms: int
    error: str | None
    exit_code: int = 0
    cache_write_tokens: int = 0  # prompt tokens written to the provider's cache
    failure: Exception | None = None  # what stopped the call (kilo serve maps it to a status)
    finish_reason: str | None = None


SAVE_PARTIAL_EVERY_S = 0.5  # the partial answer in the store is never older than this


class PartialSaver:
    """Writes the streamed text so far to the store every ``interval`` seconds while it grows,
    on its own thread, so a stall does not hold back text that already arrived."""

    def __init__(self, store: Store, turn_id: int, chunks: list[str], interval: float) -> None:
        self._store = store
        self._turn_id = turn_id
        self._chunks = chunks  # appended to by the streaming thread; read here by length
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kilocli-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait, so that no save can land after the turn's final write."""
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        saved = 0
        while not self._done.wait(self._interval):
            count = len(self._chunks)
            if count == saved:
                continue
            try:
                self._store.save_partial(self._turn_id, "".join(self._chunks[:count]))
                saved = count
            except Exception:  # a busy or full disk: the final write reports it
                continue


# under a cost cap, a model that could write fewer tokens than this is not worth calling
MIN_CLAMPED_OUTPUT = 256


class Engine:
    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        *,
        store: Store,
        router: Router,
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.store = store
        self.router = router
        self.transport = transport
        self.sleep = sleep
        self.clock = clock
        from kilocli.providers.runner import ProviderCache  # httpx: not on the route-only path

        # keeps connections alive across the turns of a chat
        self.provider_cache = ProviderCache(transport=transport, timeouts=settings.timeouts())

    def attempts_for(
        self,
        decision: Decision,
        messages: Sequence[Message],
        *,
        system: str | Sequence[str] | None,
        allow_fallback: bool = True,
        stream: bool = True,
        on_notice: Note = _silent,
        raw_messages: Sequence[Mapping[str, Any]] | None = None,
        params: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> list[Attempt]:
        """The chosen model first (on each provider that serves it), then the other adequate
        candidates, cheapest first; under a cost cap, each request's max_tokens is clamped so that
        its worst case (the input at full price plus every output token) stays under the cap."""
        from kilocli.errors import UsageError
        from kilocli.providers.base import ChatRequest
        from kilocli.providers.runner import plan_attempts
        from kilocli.settings import BUILTIN_PROVIDERS

        providers = self.router.providers()
        if not providers:
            # a custom provider of config.toml that lacks its key is named with its variable
            custom = [
                f"{var} (for {name})"
                for name in self.router.settings.provider_names()
                if name not in BUILTIN_PROVIDERS and (var := self.router.settings.env_var_for(name))
            ]
            wanted = ", ".join([*custom, "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY"])
            raise UsageError(
                f"no provider configured: set {wanted} or OPENAI_API_KEY (or OLLAMA_HOST), "
                "or run `kilo auth set PROVIDER`"
            )
        order = [decision.model]
        if allow_fallback:
            others = [c for c in decision.candidates if c.adequate and c.model != decision.model]
            others.sort(key=lambda c: (c.estimated_cost_usd is None, c.estimated_cost_usd or 0.0))
            order += [c.model for c in others]
        blocks = (system,) if isinstance(system, str) else tuple(b for b in system or () if b)
        request = ChatRequest(
            model="",
            messages=tuple(messages),
            system="\n\n".join(blocks) or None,
            max_tokens=max_tokens or 8192,
            stream=stream,
            system_blocks=blocks,
            # a served client's own conversation goes as it came, without our breakpoints
            prompt_cache=raw_messages is None,
            raw_messages=None if raw_messages is None else tuple(raw_messages),
            params=dict(params or {}),
        )
        attempts = plan_attempts(order, self.router.catalogue, providers, request)
        cap = decision.max_cost_usd
        # a pinned model called over the cap with --force is the user's explicit choice
        forced = decision.pinned and (
            decision.estimated_cost_usd is None or (cap or 0.0) < decision.estimated_cost_usd
        )
        if cap is not None and not forced:
            attempts = self._within_cap(attempts, decision, on_notice)
        if not attempts:
            raise UsageError(f"{decision.model}: no configured provider serves this model")
        return attempts

    def _within_cap(
        self, attempts: list[Attempt], decision: Decision, on_notice: Note
    ) -> list[Attempt]:
        from dataclasses import replace

        from kilocli.routing.cost import format_usd, max_output_within, resolve_price

        cap = float(decision.max_cost_usd or 0.0)
        kept: list[Attempt] = []
        for attempt in attempts:
            spec = self.router.catalogue.models[attempt.model_id]
            price = resolve_price(spec, decision.input_tokens, attempt.provider.name)
            most = max_output_within(cap, price, decision.input_tokens)
            if most is None or most >= attempt.request.max_tokens:
                kept.append(attempt)
            elif most >= MIN_CLAMPED_OUTPUT:
                if attempt.model_id == decision.model and not kept:
                    on_notice(
                        f"max_tokens clamped to {most:,} so that {attempt.model_id} stays under "
                        f"the cap {format_usd(cap)} even if it writes that much"
                    )
                kept.append(replace(attempt, request=replace(attempt.request, max_tokens=most)))
        return kept

    def run_turn(
        self,
        session_id: str,
        history: Sequence[Message],
        prompt: str,
        decision: Decision,
        *,
        system: str | Sequence[str] | None = None,
        files: Sequence[str] = (),
        on_text: Callable[[str], None] = _silent,
        on_notice: Note = _silent,
        cancel: threading.Event | None = None,
        allow_fallback: bool = True,
        stream: bool = True,
        timeout_s: float | None = None,
        raw_messages: Sequence[Mapping[str, Any]] | None = None,
        params: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        on_event: Callable[[Attempt, Event], None] | None = None,
    ) -> TurnOutcome:
        """Call the provider for a decided turn, streaming text to `on_text`; record everything.

        Provider failures do not raise: the outcome's status and error say what happened. The prompt
        is in the store before the call; the partial answer is saved as it streams. ``timeout_s``
        bounds the whole call, retries and fallbacks included (None: settings.timeout_s).
        ``system`` may come in blocks (the user's prompt, then the files of a chat): each one ends
        a prompt-cache breakpoint where the provider takes them (Anthropic).
        ``raw_messages``, ``params`` and ``max_tokens`` shape the request (kilo serve passes a
        client's own conversation and parameters); ``on_event`` sees every event with its attempt.
        """
        from kilocli.errors import KiloError
        from kilocli.providers.base import Finished, Message, TextDelta, ToolCallDelta, UsageReport
        from kilocli.providers.errors import StreamInterrupted
        from kilocli.providers.runner import stream_with_fallback
        from kilocli.signals import Terminated

        decision_json = decision.to_json()
        turn_id = self.store.start_turn(
            session_id, prompt, files=list(files), decision=decision_json
        )
        messages = [*history, Message(role="user", content=prompt)]
        started = self.clock()
        chunks: list[str] = []
        usage: UsageReport | None = None
        model, provider = decision.model, decision.provider
        status, error, exit_code = "ok", None, 0
        failure: Exception | None = None
        finish_reason: str | None = None
        tool_calls: dict[int, list[str]] = {}  # index -> [name, arguments so far]
        terminated: Terminated | None = None
        # the whole call's bound: a timer stops the stream as Ctrl-C would, and says why
        timeout_s = self.settings.timeout_s if timeout_s is None else timeout_s
        stop = cancel if cancel is not None else threading.Event()
        timed_out = threading.Event()
        timer = threading.Timer(timeout_s, lambda: (timed_out.set(), stop.set()))
        timer.daemon = True
        timer.start()
        # the text so far reaches the store on a clock, not per chunk: a stall right after a
        # burst of text (then a kill, a crash, a closed terminal) must not lose that burst
        saver = PartialSaver(self.store, turn_id, chunks, SAVE_PARTIAL_EVERY_S)
        saver.start()
        try:
            attempts = self.attempts_for(
                decision,
                messages,
                system=system,
                allow_fallback=allow_fallback,
                stream=stream,
                on_notice=on_notice,
                raw_messages=raw_messages,
                params=params,
                max_tokens=max_tokens,
            )
            for attempt, event in stream_with_fallback(
                attempts,
                on_notice=on_notice,
                sleep=self.sleep,
                transport=self.transport,
                cancel=stop,
                providers=self.provider_cache,
                before_call=self._budget_gate(turn_id, session_id, decision, on_notice),
                timeouts=self.settings.timeouts(),
            ):
                model, provider = attempt.model_id, attempt.provider.name
                if on_event is not None:
                    on_event(attempt, event)
                if isinstance(event, ToolCallDelta):
                    call = tool_calls.setdefault(event.index, ["", ""])
                    call[0] = event.name or call[0]
                    call[1] += event.arguments
                elif isinstance(event, Finished):
                    finish_reason = event.finish_reason
                elif isinstance(event, TextDelta):
                    chunks.append(event.text)
                    on_text(event.text)
                elif isinstance(event, UsageReport):
                    usage = event
            if timed_out.is_set():
                status = "incomplete" if chunks else "error"
                error = f"no complete answer within {timeout_s:g} s (timeout_s, --timeout)"
                exit_code = 1
                failure = TimeoutError(error)
            elif stop.is_set():
                status, error, exit_code = "interrupted", "stopped by the user", 130
        except StreamInterrupted as exc:
            status, error, exit_code, failure = "incomplete", exc.message, exc.exit_code, exc
        except KeyboardInterrupt:
            status, error, exit_code = "interrupted", "stopped by the user", 130
        except Terminated as exc:  # SIGTERM / SIGHUP: record the turn, then let the process end
            status, error, exit_code = "interrupted", f"stopped by {exc.name}", exc.exit_code
            terminated = exc
        except KiloError as exc:
            status, error, exit_code, failure = "error", exc.message, exc.exit_code, exc
        finally:
            timer.cancel()
            saver.stop()
        answer = "".join(chunks)
        if tool_calls:  # the transcript shows the calls the model asked for
            calls = "\n".join(f"[tool call] {n}({a})" for n, a in tool_calls.values())
            answer = f"{answer}\n{calls}" if answer else calls
        duration_ms = int((self.clock() - started) * 1000)
        cost = self._cost(model, usage)
        # what the frontier tier would have charged for this very usage (not for the estimate)
        frontier_cost = decision.frontier_cost_usd
        if usage is not None and decision.frontier_model:
            frontier_cost = self._cost(decision.frontier_model, replace(usage, cost_usd=None))
        self.store.finish_turn(
            turn_id,
            answer=answer,
            status=status,
            decision=decision_json,
            model=model,
            provider=provider,
            usage=None
            if usage is None
            else {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cached_input_tokens": usage.cached_input_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
                "reasoning_tokens": usage.reasoning_tokens,
            },
            estimated_cost_usd=decision.estimated_cost_usd,
            cost_usd=cost,
            frontier_cost_usd=frontier_cost,
            latency_ms=duration_ms,
            error=error,
        )
        outcome = TurnOutcome(
            turn_id=turn_id,
            answer=answer,
            status=status,
            decision=decision,
            model=model,
            provider=provider,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cached_input_tokens=usage.cached_input_tokens if usage else 0,
            reasoning_tokens=usage.reasoning_tokens if usage else 0,
            cache_write_tokens=usage.cache_write_tokens if usage else 0,
            cost_usd=cost,
            duration_ms=duration_ms,
            error=error,
            exit_code=exit_code,
            failure=failure,
            finish_reason=finish_reason,
        )
        if terminated is not None:
            terminated.outcome = outcome
            raise terminated
        return outcome

    def _budget_gate(
        self, turn_id: int, session_id: str, decision: Decision, on_notice: Note
    ) -> Callable[[Attempt], Attempt]:
        """Before every request (retries and fallbacks included): hold the call's worst case
        against the budgets in the store, clamping max_tokens when only a shorter answer fits;
        BudgetExceeded (exit 2) when even that does not. Every request holds, even with no budget
        set, so that another process with a budget counts this call while it runs."""
        from kilocli import budget
        from kilocli.routing.cost import format_usd, resolve_price

        told: set[str] = set()
        limits = budget.configured(self.settings)

        def gate(attempt: Attempt) -> Attempt:
            spec = self.router.catalogue.models[attempt.model_id]
            price = resolve_price(spec, decision.input_tokens, attempt.provider.name)
            if attempt.provider.zero_price:
                return attempt  # local hardware: nothing to hold
            admission: list[budget.Admission] = []

            def decide(spent: Callable[[], budget.Spent]) -> float:
                uses = budget.uses(self.settings, spent()) if limits else []
                found = budget.admit(uses, price, decision.input_tokens, attempt.request.max_tokens)
                admission.append(found)
                return found.reserve_usd

            self.store.reserve(turn_id, session_id, decide)
            found = admission[-1]
            if found.max_tokens == attempt.request.max_tokens:
                return attempt
            by = found.clamped_by
            if by is not None and attempt.label not in told:
                told.add(attempt.label)
                on_notice(
                    f"max_tokens clamped to {found.max_tokens:,} so that {attempt.model_id} stays "
                    f"within the {by.name} budget ({format_usd(by.spent_usd)} of "
                    f"{format_usd(by.limit_usd)} spent) even if it writes that much"
                )
            request = replace(attempt.request, max_tokens=found.max_tokens)
            return replace(attempt, request=request)

        return gate

    def _cost(self, model_id: str, usage: UsageReport | None) -> float | None:
        from kilocli.routing.cost import usage_cost

        spec = self.router.catalogue.models.get(model_id)
        if usage is None or spec is None:
            return None
        return usage_cost(
            spec,
            usage.input_tokens,
            usage.output_tokens,
            usage.cached_input_tokens,
            usage.reasoning_tokens,
            provider_reported=usage.cost_usd,
            cache_write_tokens=usage.cache_write_tokens,
        )
