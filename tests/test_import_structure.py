"""The import structure (docs/architecture.md): ``core`` and ``web`` import no domain, and no two
packages import each other, directly or round a longer loop.

Every ``import`` counts, wherever it is written: at the top of a module, inside a function, under
``if TYPE_CHECKING``. There is no allowlist: a new exception means the layering is wrong.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[1] / "src" / "yiyang"
FOUNDATION = {"core": {"core"}, "web": {"core", "web"}}
"""What each foundation package may import from the project (anything else is a domain)."""


@dataclass(frozen=True)
class Edge:
    source: str  # importing package
    target: str  # imported package
    where: str  # file:line


def package_of(root: Path, file: Path) -> str:
    """``core`` for core/db.py, ``app`` for app.py: the first name under the root package."""
    return file.relative_to(root).parts[0].removesuffix(".py")


def _absolute(module: str | None, level: int, file: Path, root: Path) -> str | None:
    """The dotted name below the root package that an import refers to."""
    if level == 0:
        return module
    parts = list(file.relative_to(root).with_suffix("").parts)
    base = parts[: len(parts) - level]  # "__init__" takes a slot like a module name does
    return ".".join([root.name, *base, *([module] if module else [])])


def _imported(node: ast.AST, file: Path, root: Path) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        target = _absolute(node.module, node.level, file, root)
        if target == root.name:  # from yiyang import registry
            yield from (f"{root.name}.{alias.name}" for alias in node.names)
        elif target:
            yield target


def edges(root: Path) -> list[Edge]:
    """Every import from one top-level package of ``root`` into another, inside functions too."""
    found = []
    for file in sorted(root.rglob("*.py")):
        if "migrations" in file.relative_to(root).parts:  # revisions are frozen history
            continue
        source = package_of(root, file)
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            for module in _imported(node, file, root):
                parts = module.split(".")
                if parts[0] != root.name or len(parts) < 2 or parts[1] in ("", source):
                    continue
                where = f"{file.relative_to(root.parent)}:{getattr(node, 'lineno', 0)}"
                found.append(Edge(source, parts[1], where))
    return found


def cycles(found: list[Edge]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan), each sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for e in found:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def foundation_breaches(found: list[Edge]) -> list[Edge]:
    return [e for e in found if e.source in FOUNDATION and e.target not in FOUNDATION[e.source]]


def _explain(group: list[str], found: list[Edge]) -> str:
    """The group and, for each pair of its packages, how many imports and the first one."""
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in found:
        if e.source in group and e.target in group:
            pairs[(e.source, e.target)].append(e.where)
    return " ⇄ ".join(group) + "".join(
        f"\n    {a} → {b}: {len(w)} import(s), first {w[0]}" for (a, b), w in sorted(pairs.items())
    )


# -- the project ---------------------------------------------------------------------------


def test_core_and_web_import_no_domain() -> None:
    breaches = foundation_breaches(edges(SRC))
    assert not breaches, "core/web import a domain:\n" + "\n".join(
        f"  {e.source} → {e.target}  {e.where}" for e in breaches
    )


def test_no_package_cycle() -> None:
    found = edges(SRC)
    groups = cycles(found)
    assert not groups, "package cycles:\n" + "\n".join(_explain(g, found) for g in groups)


def test_the_walk_sees_the_known_imports() -> None:
    """The walk reads the real tree: the app imports every domain with routes, and a function-level
    import (the app's lazy pipeline) is counted."""
    found = edges(SRC)
    from_app = {e.target for e in found if e.source == "app"}
    assert {"registry", "alarms", "console", "services", "core", "web"} <= from_app
    assert any(e.source == "app" and e.target == "pipeline" for e in found)


# -- the checker itself, on a tree made for it --------------------------------------------------


def _tree(tmp: Path, files: dict[str, str]) -> Path:
    root = tmp / "pkg"
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return root


def test_checker_finds_a_cycle_made_inside_a_function(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "",
            "a/x.py": "from pkg.b import y\n",
            "b/__init__.py": "",
            "b/y.py": "def f():\n    from ..a import x\n    return x\n",
            "c/z.py": "import pkg.a.x\n",
        },
    )
    found = edges(root)
    assert cycles(found) == [["a", "b"]]
    assert Edge("b", "a", "pkg/b/y.py:2") in found


def test_checker_finds_core_importing_a_domain(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "core/db.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg import registry\n",
            "web/t.py": "from pkg.core import db\n",
            "registry/m.py": "from pkg.core import db\nfrom pkg.web import t\n",
        },
    )
    assert foundation_breaches(edges(root)) == [Edge("core", "registry", "pkg/core/db.py:3")]
    assert cycles(edges(root)) == [["core", "registry", "web"]]
