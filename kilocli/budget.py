"""Spend budgets per session, per local calendar day and per local calendar month.

Pure logic: the store sums what was spent (and what calls in flight have reserved) inside the
same write transaction that reserves this call's worst case, so two processes cannot both spend
the last of a budget. A call is admitted when its worst case fits the tightest budget's room; when
only a shorter answer fits, its ``max_tokens`` is clamped (as under a cost cap), and below
``MIN_OUTPUT`` tokens it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from kilocli.errors import UsageError
from kilocli.routing.cost import format_usd, max_output_within, worst_case_cost

if TYPE_CHECKING:
    from kilocli.routing.pools import Price
    from kilocli.settings import Settings

# (name, setting) in the order they are shown
BUDGETS: tuple[tuple[str, str], ...] = (
    ("session", "budget_session_usd"),
    ("daily", "budget_daily_usd"),
    ("monthly", "budget_monthly_usd"),
)
MIN_OUTPUT = 256  # a call that could write fewer tokens than this is not worth making


class BudgetExceeded(UsageError):
    """A call refused because its worst case does not fit a budget (exit 2)."""


@dataclass(frozen=True)
class Spent:
    """USD recorded (and reserved by calls in flight) in each window."""

    session: float
    day: float
    month: float

    def of(self, name: str) -> float:
        return {"session": self.session, "daily": self.day, "monthly": self.month}[name]


@dataclass(frozen=True)
class BudgetUse:
    name: str  # session | daily | monthly
    setting: str
    limit_usd: float
    spent_usd: float

    @property
    def room_usd(self) -> float:
        return self.limit_usd - self.spent_usd

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "setting": self.setting,
            "limit_usd": self.limit_usd,
            "spent_usd": round(self.spent_usd, 10),
        }


@dataclass(frozen=True)
class Admission:
    max_tokens: int  # what to send (clamped when only a shorter answer fits)
    reserve_usd: float  # the call's worst case, held until its real cost is recorded
    clamped_by: BudgetUse | None = None


def configured(settings: Settings) -> list[tuple[str, str, float]]:
    """(name, setting, limit) of each budget that is set."""
    return [
        (name, key, float(limit))
        for name, key in BUDGETS
        if (limit := getattr(settings, key, None)) is not None
    ]


def uses(settings: Settings, spent: Spent) -> list[BudgetUse]:
    return [BudgetUse(n, k, limit, spent.of(n)) for n, k, limit in configured(settings)]


def window_starts(now: datetime) -> tuple[datetime, datetime]:
    """Local midnight today and local midnight on the first of this month (aware datetimes)."""
    local = now.astimezone()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def admit(budgets: list[BudgetUse], price: Price, input_tokens: int, max_tokens: int) -> Admission:
    """Whether a call of ``input_tokens`` and up to ``max_tokens`` fits every budget.

    Raises BudgetExceeded naming the budget, what was spent and its limit. An unpriced model's
    worst case is unknown: it is admitted and reserves nothing (README says so)."""
    worst = worst_case_cost(price, input_tokens, max_tokens)
    if not budgets or worst == 0:  # a free model costs nothing, even past a limit
        return Admission(max_tokens, worst or 0.0)
    tightest = min(budgets, key=lambda b: b.room_usd)
    if tightest.room_usd <= 0:
        raise BudgetExceeded(refusal(tightest, worst))
    if worst is None:
        return Admission(max_tokens, 0.0)
    if worst <= tightest.room_usd:
        return Admission(max_tokens, worst)
    most = max_output_within(tightest.room_usd, price, input_tokens)
    if most is not None and most >= MIN_OUTPUT:
        clamped = worst_case_cost(price, input_tokens, most) or 0.0
        return Admission(most, clamped, clamped_by=tightest)
    raise BudgetExceeded(refusal(tightest, worst))


def refusal(use: BudgetUse, worst: float | None) -> str:
    could = f"; this call could cost up to {format_usd(worst)}" if worst is not None else ""
    spent, limit = format_usd(use.spent_usd), format_usd(use.limit_usd)
    if spent == limit and use.spent_usd < use.limit_usd:  # "$1.00 of $1.00" would read as full
        spent = f"${use.spent_usd:.4f}"
    return f"{use.name} budget reached: spent {spent} of {limit} ({use.setting}){could}"


def short(budgets: list[BudgetUse]) -> str:
    """'daily $0.42/$1.00 · monthly $3.10/$20.00' for the chat toolbar."""
    return " · ".join(
        f"{b.name} {format_usd(b.spent_usd)}/{format_usd(b.limit_usd)}" for b in budgets
    )
