"""The turn machinery: the routing service (engine/routing.py), the classifier loader, and the
engine that runs a decided turn against the providers and records it (engine/turn.py).
kilocli/app.py builds them; commands, chat and serve get them from there."""

from kilocli.engine.routing import Router
from kilocli.engine.turn import Engine, TurnOutcome

__all__ = ["Engine", "Router", "TurnOutcome"]
