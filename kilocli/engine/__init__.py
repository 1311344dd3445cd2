"""The turn machinery: the routing service (engine/routing.py), the classifier loader, and the
engine that runs a decided turn against the providers and records it (engine/turn.py).
kilocli/app.py builds them; commands, chat and serve get them from there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kilocli.engine.routing import Router
    from kilocli.engine.turn import Engine, TurnOutcome

__all__ = ["Engine", "Router", "TurnOutcome"]


def __getattr__(name: str) -> Any:
    """Loaded on first use: `kilo route` needs the routing service, not the turn runner."""
    if name == "Router":
        from kilocli.engine.routing import Router

        return Router
    if name in ("Engine", "TurnOutcome"):
        from kilocli.engine import turn

        return getattr(turn, name)
    raise AttributeError(f"module 'kilocli.engine' has no attribute {name!r}")
