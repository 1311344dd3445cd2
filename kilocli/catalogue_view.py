"""`kilo models --json`: the catalogue as plain data (no terminal), one object per model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kilocli.routing.pools import ModelSpec, TierPool


def model_rows(
    models: Iterable[ModelSpec],
    tiers: Mapping[str, TierPool],
    reachable: Mapping[str, str] | None,
) -> list[dict[str, Any]]:
    """Each model with its price, skills by cell, the tiers whose pool holds it, and the provider
    that reaches it (None for every model when no provider is configured)."""
    return [
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
        for m in models
    ]
