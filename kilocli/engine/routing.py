"""The routing service: a turn's text -> a Decision, with the parts it is given.

It builds nothing itself: the catalogue, the tiers, the classifier (through its loader) and the
reachability of each model come from the composition root (kilocli/app.py). The routing logic
is the pure route() and stronger() of kilocli/routing; this class adds classification, the
personal-examples note, the free-tier fallback and the --pool override.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kilocli.routing.cost import count_tokens
from kilocli.routing.escalation import stronger
from kilocli.routing.pools import Catalogue, TierPool
from kilocli.routing.router import Constraints, Decision, RouteRequest, route
from kilocli.routing.taxonomy import TIERS

if TYPE_CHECKING:
    from kilocli.engine.classifiers import ClassifierLoader
    from kilocli.routing.classifier import Classification, Classifier


@dataclass(frozen=True)
class RoutingPolicy:
    """The user's settings routing obeys on every turn."""

    default_tier: str
    exclude: tuple[str, ...] = ()
    max_cost_usd: float | None = None


@dataclass(frozen=True)
class PoolOverride:
    """--pool FILE: replaces the tier's pool (the frontier comparison still uses its tier)."""

    pool: TierPool
    label: str  # the file's name, shown beside the tier


class Router:
    """Everything needed to decide a turn; the classifier loads once, on first need or warm()."""

    def __init__(
        self,
        catalogue: Catalogue,
        tiers: Callable[[str], TierPool],
        classifiers: ClassifierLoader,
        reachability: Callable[[], dict[str, str] | None],
        policy: RoutingPolicy,
        *,
        pool_override: PoolOverride | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.tier = tiers
        self.classifiers = classifiers
        self._reachability = reachability
        self.policy = policy
        self.pool_override = pool_override

    # -- loading -----------------------------------------------------------------------------
    def warm(self) -> None:
        self.classifier  # noqa: B018 - loads encoder and centroids

    def ready(self) -> bool:
        return self.classifiers.loaded()

    @property
    def personal(self) -> bool:
        return self.classifiers.personal

    @property
    def classifier(self) -> Classifier:
        """The built-in examples plus, unless --no-personal, the user's corrections."""
        return self.classifiers.classifier

    @property
    def base_classifier(self) -> Classifier:
        return self.classifiers.base

    def refresh_personal(self) -> None:
        self.classifiers.refresh_personal()

    @property
    def reachable(self) -> dict[str, str] | None:
        """Model id -> provider serving it; None when no provider is configured at all."""
        return self._reachability()

    # -- deciding ----------------------------------------------------------------------------
    def pool_for(self, tier: str) -> TierPool:
        return self.pool_override.pool if self.pool_override else self.tier(tier)

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
            reachable=reachable,
            exclude=frozenset([*self.policy.exclude, *exclude]),
            pin=pin,
            max_cost_usd=max_cost_usd if max_cost_usd is not None else self.policy.max_cost_usd,
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
        if self.pool_override is not None:
            decision = replace(decision, tier=f"{tier} (pool {self.pool_override.label})")
        if notes:
            decision = replace(decision, tier=pool.name, notes=[*notes, *decision.notes])
        return decision

    def stronger(self, decision: Decision) -> Decision | None:
        """The cheapest reachable model more skilled than the decision's for the same cell, from
        the tier's pool and the frontier tier; None when nothing is stronger."""
        tier = decision.tier if decision.tier in TIERS else self.policy.default_tier
        pools = [self.pool_for(tier), self.tier("frontier")]
        return stronger(decision, pools, self.catalogue, self.reachable, self.policy.exclude)

    def decide_many(self, prompts: Sequence[str], *, tier: str, **kwargs: Any) -> list[Decision]:
        """Independent one-turn prompts, encoded in batches (kilo route --batch)."""
        classifications = self.classifier.classify_many(list(prompts))
        return [
            self.decide_classified(c, tier=tier, input_tokens=count_tokens(p), **kwargs)
            for p, c in zip(prompts, classifications, strict=True)
        ]
