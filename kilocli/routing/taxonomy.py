"""The bucket names of docs/taxonomy.md, in a fixed order used by every array in routing."""

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
