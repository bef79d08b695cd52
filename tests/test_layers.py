"""The package's architecture, enforced: every import points down, and no module imports itself round.

Reads every labkit module's imports, at the top and inside functions alike, as
a newcomer would read them.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import labkit

ROOT = Path(labkit.__file__).resolve().parent

# The layers, lowest first. A module belongs to the unit with the longest matching name.
LAYERS = [
    ("base", ["labkit", "labkit.errors", "labkit.uris", "labkit.procs", "labkit.files", "labkit.ejson",
              "labkit.progress"]),
    ("connections", ["labkit.deploy"]),
    ("workspace", ["labkit.workspace"]),
    ("features", ["labkit.backup", "labkit.workload", "labkit.transfer", "labkit.generate"]),
    ("lab", ["labkit.lab"]),
    ("cli", ["labkit.cli"]),
]


def module_files() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = ("labkit",) + path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = module_files()


def unit_of(module: str) -> tuple[int, str]:
    """(layer index, unit name) of a module."""
    best = None
    for index, (_, units) in enumerate(LAYERS):
        for unit in units:
            if (module == unit or module.startswith(unit + ".")) and (best is None or len(unit) > len(best[1])):
                best = (index, unit)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return best


def imports_of(module: str) -> set[str]:
    """Every labkit module ``module`` imports, wherever the import statement stands."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from labkit.x import y` where y is a module imports that module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    return {name for name in found if name == "labkit" or name.startswith("labkit.")}


def edges() -> dict[str, set[str]]:
    return {module: {target for target in imports_of(module) if target in MODULES and target != module}
            for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        unit_of(module)


def test_imports_point_down():
    """A module imports only from lower layers, or from its own unit (package) in the same layer."""
    wrong = []
    for module, targets in edges().items():
        layer, unit = unit_of(module)
        for target in targets:
            target_layer, target_unit = unit_of(target)
            if target_layer > layer or (target_layer == layer and target_unit != unit and LAYERS[layer][0] != "base"):
                wrong.append(f"{module} ({LAYERS[layer][0]}) imports {target} ({LAYERS[target_layer][0]})")
    assert not wrong, "Imports that do not point down:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = edges()
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "Import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_upward_and_circular_imports(tmp_path, monkeypatch):
    """The rules above catch what they are for: a workspace that imports a feature, and a cycle."""
    fake = {"labkit.workspace": tmp_path / "workspace.py", "labkit.backup": tmp_path / "backup.py"}
    fake["labkit.workspace"].write_text("def f():\n    from labkit.backup import Backup\n")
    fake["labkit.backup"].write_text("from labkit import workspace\n")
    monkeypatch.setattr(sys.modules[__name__], "MODULES", fake)
    assert edges() == {"labkit.workspace": {"labkit.backup"}, "labkit.backup": {"labkit.workspace"}}
    try:
        test_imports_point_down()
    except AssertionError as exc:
        assert "labkit.workspace (workspace) imports labkit.backup (features)" in str(exc)
    else:
        raise AssertionError("an upward import went unnoticed")
    try:
        test_no_import_cycles()
    except AssertionError as exc:
        assert "labkit.backup -> labkit.workspace -> labkit.backup" in str(exc)
    else:
        raise AssertionError("a cycle went unnoticed")
