"""The budget gate's pure rule (the processes it holds across: tests/e2e/cli/test_budgets.py)."""

from __future__ import annotations

import pytest


def test_admission_rules_without_a_process():
    """The pure rule behind the gate: fit, clamp, refuse, and free models always pass."""
    from kilocli.budget import BudgetExceeded, BudgetUse, admit
    from kilocli.routing.pools import Price

    price = Price(input=1.0, output=10.0, cached_input=0.1, source="t", date="", cache_write=1.25)
    daily = BudgetUse("daily", "budget_daily_usd", 1.0, 0.5)
    # 1,000 input tokens at the write rate (1.25) + 8,192 output at 10: $0.0832 fits in $0.50
    fits = admit([daily], price, 1_000, 8_192)
    assert fits.max_tokens == 8_192 and fits.reserve_usd == pytest.approx(0.08317)
    tight = BudgetUse("daily", "budget_daily_usd", 1.0, 0.99)  # $0.01 left
    clamped = admit([tight], price, 1_000, 8_192)
    assert clamped.max_tokens == 875 and clamped.clamped_by == tight
    assert clamped.reserve_usd <= 0.01 + 1e-12
    with pytest.raises(BudgetExceeded, match=r"daily budget reached: spent \$0\.9990 of \$1\.00 "):
        admit([BudgetUse("daily", "budget_daily_usd", 1.0, 0.999)], price, 1_000, 8_192)
    free = Price(input=0.0, output=0.0, cached_input=0.0, source="t", date="")
    spent = BudgetUse("monthly", "budget_monthly_usd", 1.0, 1.5)
    assert admit([spent], free, 1_000, 8_192).reserve_usd == 0.0
