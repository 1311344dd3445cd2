"""Which calls a decided turn makes, and under which limits: the attempts (chosen model first,
then the adequate fallbacks), the per-request cost cap and the budget gate before each call."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kilocli.routing.pools import Catalogue
from kilocli.routing.router import Decision

if TYPE_CHECKING:
    from kilocli.providers.base import Message
    from kilocli.providers.runner import Attempt
    from kilocli.settings import Settings
    from kilocli.store import Store

Note = Callable[[str], None]

# under a cost cap, a model that could write fewer tokens than this is not worth calling
MIN_CLAMPED_OUTPUT = 256


def no_provider_error(settings: Settings) -> Exception:
    """The one-line refusal when no provider is configured, naming the variables to set (a
    custom provider of config.toml that lacks its key is named with its variable)."""
    from kilocli.errors import UsageError
    from kilocli.settings import BUILTIN_PROVIDERS

    custom = [
        f"{var} (for {name})"
        for name in settings.provider_names()
        if name not in BUILTIN_PROVIDERS and (var := settings.env_var_for(name))
    ]
    wanted = ", ".join([*custom, "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY"])
    return UsageError(
        f"no provider configured: set {wanted} or OPENAI_API_KEY (or OLLAMA_HOST), "
        "or run `kilo auth set PROVIDER`"
    )


def attempts_for(
    decision: Decision,
    messages: Sequence[Message],
    *,
    catalogue: Catalogue,
    providers: list[Any],
    settings: Settings,
    system: str | Sequence[str] | None,
    allow_fallback: bool = True,
    stream: bool = True,
    on_notice: Note,
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

    if not providers:
        raise no_provider_error(settings)
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
    attempts = plan_attempts(order, catalogue, providers, request)
    cap = decision.max_cost_usd
    # a pinned model called over the cap with --force is the user's explicit choice
    forced = decision.pinned and (
        decision.estimated_cost_usd is None or (cap or 0.0) < decision.estimated_cost_usd
    )
    if cap is not None and not forced:
        attempts = _within_cap(attempts, decision, catalogue, on_notice)
    if not attempts:
        raise UsageError(f"{decision.model}: no configured provider serves this model")
    return attempts


def _within_cap(
    attempts: list[Attempt], decision: Decision, catalogue: Catalogue, on_notice: Note
) -> list[Attempt]:
    from kilocli.routing.cost import format_usd, max_output_within, resolve_price

    cap = float(decision.max_cost_usd or 0.0)
    kept: list[Attempt] = []
    for attempt in attempts:
        spec = catalogue.models[attempt.model_id]
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


def budget_gate(
    store: Store,
    settings: Settings,
    catalogue: Catalogue,
    turn_id: int,
    session_id: str,
    decision: Decision,
    on_notice: Note,
) -> Callable[[Attempt], Attempt]:
    """Before every request (retries and fallbacks included): hold the call's worst case
    against the budgets in the store, clamping max_tokens when only a shorter answer fits;
    BudgetExceeded (exit 2) when even that does not. Every request holds, even with no budget
    set, so that another process with a budget counts this call while it runs."""
    from kilocli import budget
    from kilocli.routing.cost import format_usd, resolve_price

    told: set[str] = set()
    limits = budget.configured(settings)

    def gate(attempt: Attempt) -> Attempt:
        spec = catalogue.models[attempt.model_id]
        price = resolve_price(spec, decision.input_tokens, attempt.provider.name)
        if attempt.provider.zero_price:
            return attempt  # local hardware: nothing to hold
        admission: list[budget.Admission] = []

        def decide(spent: Callable[[], budget.Spent]) -> float:
            uses = budget.uses(settings, spent()) if limits else []
            found = budget.admit(uses, price, decision.input_tokens, attempt.request.max_tokens)
            admission.append(found)
            return found.reserve_usd

        store.reserve(turn_id, session_id, decide)
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
