"""The routing packages' import graph: cheap to import where the heavy libraries are not needed, and
free of cycles."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUTING = REPO / "kilocli" / "routing"
HEAVY = ("numpy", "onnxruntime", "tokenizers", "torch", "sentence_transformers")


def _imported_after(code: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    return set(proc.stdout.split())


def test_the_encoder_pools_and_router_import_no_heavy_library():
    loaded = _imported_after(
        "import kilocli.routing.encoder, kilocli.routing.pools, kilocli.routing.router, "
        "kilocli.routing.text"
    )
    assert "kilocli.routing.encoder.runtime" in loaded  # the probe did import the package
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(path: Path, known: set[str]) -> set[str]:
    """kilocli.routing modules imported at module level (TYPE_CHECKING blocks and function bodies
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


def test_no_routing_module_imports_itself_through_a_cycle():
    files = {_module_name(p): p for p in ROUTING.rglob("*.py")}
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

    assert len(graph) > 20  # the packages were found
    for name in sorted(graph):
        visit(name, ())
