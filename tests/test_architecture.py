"""The package's layout stays true without anyone policing it (docs/architecture.md).

Every import inside ``provcheck`` (lazy ones and ``TYPE_CHECKING`` ones included) must go to the
importer's own layer or to a layer of a lower rank; two layers of one rank never import each
other; no module imports itself back through others (no cycles); no module passes 400 lines and
no class 200; and every package folder is one that pyproject.toml ships.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "provcheck"

#: Layer -> rank. A module may import from its own layer and from lower ranks only.
LAYERS = {
    "__main__": 9,
    "cli": 8,  # the command line starts the HTTP edge (``provcheck serve``)
    "server": 7,
    "services": 6,
    "report": 6,
    "matching": 5,
    "store": 4,
    "media": 3,
    "search": 3,
    "signals": 2,
    "errors": 1,
    "__init__": 1,
}
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 200


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name (a module file or a package's __init__)
    line: int


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {_module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def layer_of(module: str) -> str:
    """``provcheck.matching.matcher`` -> ``matching``; ``provcheck`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module a dotted name refers to: itself, or the nearest package above it (an imported
    attribute of a module), or None outside provcheck."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(path: Path, known: dict[str, Path]) -> Iterator[Import]:
    """Every import of a provcheck module in ``path``, wherever in the file it stands."""
    importer = next(name for name, file in known.items() if file == path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` imports the submodule when there is one.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            resolved = _resolve(name, known) if name.split(".")[0] == "provcheck" else None
            if resolved is not None and resolved != importer:
                yield Import(importer, resolved, node.lineno)


def layering_violations(package: Path = PACKAGE) -> list[str]:
    known = _modules(package)
    problems = []
    for path in known.values():
        for imp in imports_of(path, known):
            mine, theirs = layer_of(imp.importer), layer_of(imp.imported)
            if theirs == "__init__" or mine == theirs:
                continue  # the package's version, or within one layer
            if mine not in LAYERS or theirs not in LAYERS:
                problems.append(f"{imp.importer}:{imp.line}: {mine} or {theirs} is no known layer")
            elif LAYERS[theirs] >= LAYERS[mine]:
                problems.append(
                    f"{imp.importer}:{imp.line} imports {imp.imported}: {mine} (rank"
                    f" {LAYERS[mine]}) may not import {theirs} (rank {LAYERS[theirs]})"
                )
    return problems


def import_cycles(package: Path = PACKAGE) -> list[list[str]]:
    """Strongly connected groups of modules that import each other (Tarjan)."""
    known = _modules(package)
    graph = {name: sorted({i.imported for i in imports_of(p, known)}) for name, p in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
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
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_imports_flow_down_the_layers():
    assert layering_violations() == []


def test_no_import_cycles():
    assert import_cycles() == []


def test_every_module_belongs_to_a_layer():
    assert {layer_of(m) for m in _modules()} <= set(LAYERS)


def test_modules_and_classes_stay_small():
    too_big = []
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_big.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    too_big.append(f"{name}.{node.name}: {lines} lines")
    assert too_big == []


def test_pyproject_ships_every_package():
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = set(pyproject["tool"]["setuptools"]["packages"])
    folders = {_module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert folders - shipped == set()


# -- the checks themselves fail when they should -------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "provcheck"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # store (rank 4) reaching up into matching (rank 5), lazily inside a function
        (
            {
                "store/__init__.py": "",
                "store/db.py": "def f():\n    from provcheck.matching.matcher import Matcher\n",
                "matching/__init__.py": "",
                "matching/matcher.py": "class Matcher: ...\n",
            },
            "provcheck.store.db:2 imports provcheck.matching.matcher",
        ),
        # siblings of one rank: services and report
        (
            {
                "services/__init__.py": "",
                "services/scan.py": "from provcheck.report import render\n",
                "report/__init__.py": "render = None\n",
            },
            "services (rank 6) may not import report (rank 6)",
        ),
        # a relative import upwards counts the same
        (
            {
                "signals/__init__.py": "",
                "signals/hashes.py": "from ..media import images\n",
                "media/__init__.py": "",
                "media/images.py": "",
            },
            "provcheck.signals.hashes:1 imports provcheck.media.images",
        ),
    ],
)
def test_an_upward_import_is_caught(tmp_path, files, expected):
    problems = layering_violations(_package(tmp_path, files))
    assert any(expected in problem for problem in problems), problems


def test_a_cycle_is_caught(tmp_path):
    root = _package(
        tmp_path,
        {
            "media/__init__.py": "",
            "media/video.py": "def f():\n    from provcheck.media import container\n",
            "media/container.py": "from provcheck.media.video import f\n",
        },
    )
    assert import_cycles(root) == [["provcheck.media.container", "provcheck.media.video"]]
    assert layering_violations(root) == []  # within one layer, so only the cycle check sees it
