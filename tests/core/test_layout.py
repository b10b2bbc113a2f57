"""The house: every module of fmnist_core imports on its own in a fresh process, no import circle between modules
or between subpackages (read from the source with ast), and the core never imports the UI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from helpers import REPO_ROOT

CORE = REPO_ROOT / "fmnist_core"
UI_PACKAGES = ("streamlit", "plotly", "ui", "pages")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """The fmnist_core modules a file imports, at any depth (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in MODULES or n.split(".")[0] in UI_PACKAGES}
    return found


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def package_of(name: str) -> str:
    """fmnist_core.runs.store and fmnist_core.runs -> runs; top-level modules (settings, errors, people) are their
    own."""
    parts = name.split(".")
    is_package = MODULES[name].name == "__init__.py"
    return parts[1] if len(parts) > 2 or (is_package and len(parts) == 2) else name


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one node (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_modules() -> None:
    graph = {m: {d for d in deps if d in MODULES and d != m and not m.startswith(d + ".")} for m, deps in GRAPH.items()}
    assert cycles(graph) == []


def test_no_import_circle_between_subpackages() -> None:
    graph: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        here = package_of(module)
        graph.setdefault(here, set()).update(
            package_of(d) for d in deps if d in MODULES and package_of(d) != here and d != "fmnist_core"
        )
    assert cycles(graph) == []


def test_the_core_never_imports_the_ui() -> None:
    leaks = {m: sorted(d for d in deps if d.split(".")[0] in UI_PACKAGES) for m, deps in GRAPH.items()}
    assert {m: d for m, d in leaks.items() if d} == {}


def test_every_subpackage_says_what_it_holds() -> None:
    for init in CORE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 20, f"{init} has no docstring"


def test_every_module_imports_alone_in_a_fresh_process() -> None:
    """An import circle held together by import order shows up only when a module is imported first."""
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('fmnist_core')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    names = [m for m in MODULES if not m.endswith("__main__")]
    done = subprocess.run(
        [sys.executable, "-c", script, *names], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
