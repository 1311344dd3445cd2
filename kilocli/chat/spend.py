"""What a chat session spent, by model, and what the frontier tier would have cost for it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelSpend:
    turns: int = 0
    cost: float | None = None  # None while every turn of this model was unpriced
    frontier: float | None = None


@dataclass
class Spend:
    """Running totals. A cost of None means "unpriced" and is counted apart, never as zero."""

    _rows: dict[str, ModelSpend] = field(default_factory=dict)
    turns: int = 0
    unpriced: int = 0  # turns whose cost is unknown
    total: float | None = None
    frontier_total: float | None = None
    _compared_cost: float = 0.0  # cost of the turns that also have a frontier figure

    def add(self, model: str, cost: float | None, frontier: float | None) -> None:
        row = self._rows.setdefault(model, ModelSpend())
        row.turns += 1
        self.turns += 1
        if cost is None:
            self.unpriced += 1
        else:
            row.cost = (row.cost or 0.0) + cost
            self.total = (self.total or 0.0) + cost
        if frontier is not None:
            row.frontier = (row.frontier or 0.0) + frontier
            if cost is not None:
                self.frontier_total = (self.frontier_total or 0.0) + frontier
                self._compared_cost += cost

    def add_frontier(self, model: str, cost: float | None, frontier: float | None) -> None:
        """The frontier figure of a turn already added without one (resumed sessions)."""
        if frontier is None:
            return
        row = self._rows.setdefault(model, ModelSpend())
        row.frontier = (row.frontier or 0.0) + frontier
        if cost is not None:
            self.frontier_total = (self.frontier_total or 0.0) + frontier
            self._compared_cost += cost

    @property
    def saving(self) -> float | None:
        """Frontier cost minus real cost, over the turns where both are known."""
        if self.frontier_total is None:
            return None
        return self.frontier_total - self._compared_cost

    def by_model(self) -> dict[str, ModelSpend]:
        return dict(sorted(self._rows.items(), key=lambda kv: -(kv[1].cost or 0.0)))
