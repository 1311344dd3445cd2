"""One decided turn -> the provider call (retries, fallback, limits) -> the store.

The prompt is in the store before the call, the partial answer is saved as it streams, and the
outcome carries what the turn cost and what the frontier tier would have charged for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kilocli.engine.attempts import attempts_for, budget_gate
from kilocli.engine.partial import SAVE_PARTIAL_EVERY_S, PartialSaver
from kilocli.routing.pools import Catalogue
from kilocli.routing.router import Decision

if TYPE_CHECKING:
    from kilocli.providers.base import Event, Message, UsageReport
    from kilocli.providers.runner import Attempt
    from kilocli.settings import Settings
    from kilocli.signals import Terminated
    from kilocli.store import Store

Note = Callable[[str], None]


def _silent(_: str) -> None:
    pass


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
    # what the frontier tier's model would have charged for the same tokens (cache hits
    # included); None when the provider reported no token counts or there is no frontier model
    frontier_cost_usd: float | None = None

    @property
    def has_usage(self) -> bool:
        """The provider reported token counts (a cut or failed call may not have)."""
        return bool(self.input_tokens or self.output_tokens)


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        catalogue: Catalogue,
        providers: Callable[[], list[Any]],
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalogue = catalogue
        self.providers = providers  # the configured providers, in serving order
        self.transport = transport
        self.sleep = sleep
        self.clock = clock
        from kilocli.providers.runner import ProviderCache  # httpx: not on the route-only path

        # keeps connections alive across the turns of a chat
        self.provider_cache = ProviderCache(transport=transport, timeouts=settings.timeouts())

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
            attempts = attempts_for(
                decision,
                messages,
                catalogue=self.catalogue,
                providers=self.providers(),
                settings=self.settings,
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
                before_call=budget_gate(
                    self.store,
                    self.settings,
                    self.catalogue,
                    turn_id,
                    session_id,
                    decision,
                    on_notice,
                ),
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
        frontier_cost, measured = decision.frontier_cost_usd, None
        if usage is not None and decision.frontier_model:
            measured = self._cost(decision.frontier_model, replace(usage, cost_usd=None))
            frontier_cost = measured
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
        if outcome.has_usage:
            outcome.frontier_cost_usd = measured
        if terminated is not None:
            terminated.outcome = outcome
            raise terminated
        return outcome

    def _cost(self, model_id: str, usage: UsageReport | None) -> float | None:
        from kilocli.routing.cost import usage_cost

        spec = self.catalogue.models.get(model_id)
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
