"""kilocli's import graph is free of cycles (an AST scan of the source; what importing the
routing packages loads is checked in a fresh process: tests/e2e/routing/test_imports.py)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
KILOCLI = REPO / "kilocli"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(path: Path, known: set[str]) -> set[str]:
    """kilocli modules imported at module level (TYPE_CHECKING blocks and function bodies
    are not: they do not run at import)."""
    out: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                target = sub if sub in known else node.module
                if target in known:
                    out.add(target)
    return out


def test_no_kilocli_module_imports_itself_through_a_cycle():
    files = {_module_name(p): p for p in KILOCLI.rglob("*.py")}
    graph = {name: _module_level_imports(p, set(files)) - {name} for name, p in files.items()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            raise AssertionError(f"import cycle: {cycle}")
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, (*path, name))
        done.add(name)

    assert len(graph) > 100  # the packages were found
    for name in sorted(graph):
        visit(name, ())
