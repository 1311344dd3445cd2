"""The routing vocabulary, defined once: task and difficulty buckets (docs/taxonomy.md), tiers,
pool rules and quality settings. Every other module imports these names from here."""

TASKS: tuple[str, ...] = (
    "edit",
    "docs",
    "explain",
    "generate",
    "test",
    "debug",
    "review",
    "plan",
    "ops",
)
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")

TIERS: tuple[str, ...] = ("frontier", "balanced", "free", "auto-efficient")
DEFAULT_TIER = "auto-efficient"

# How a tier's pool picks (docs/pools.md).
CHEAPEST_ADEQUATE = "cheapest_adequate"  # cheapest model whose skill meets the bar
ORDERED = "ordered"  # first reachable model in the pool's order
RULES: tuple[str, ...] = (ORDERED, CHEAPEST_ADEQUATE)

# The `quality` setting: how far the bars of a cheapest-adequate tier move, in logits. "standard"
# keeps the calibrated bars (docs/pools.md); each step up asks more skill of every cell.
QUALITY_SHIFTS: dict[str, float] = {"standard": 0.0, "high": 1.0, "max": 2.0}
DEFAULT_QUALITY = "standard"


def unknown_tier(name: str) -> str | None:
    """The problem with a tier name, or None when it is one."""
    if name in TIERS:
        return None
    return f"unknown tier {name!r}; choose one of {', '.join(TIERS)}"
