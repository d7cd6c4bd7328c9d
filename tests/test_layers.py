"""The architecture as a test: imports point one way, from the CLI down to the data, and the
library never imports click or rich (STYLE.md's import layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "forecastr"
LAYERS = {
    "errors": 0, "config": 0, "config_values": 0, "outputs": 0, "clock": 0, "panel": 0,
    "metrics": 0, "stopping": 0, "conformal": 0, "shards": 0,
    "source": 1, "arrow_csv": 1, "reader": 1, "times": 1, "timegrid": 1, "writer": 1, "calendar": 1,
    "scaling": 1, "theta": 1, "future": 1, "table": 1, "static": 1, "chunks": 1,
    "future_values": 2,
    "windows": 2, "model": 2, "device": 2, "distributed": 2, "container": 2, "inputs": 2,
    "sampling": 2, "threads": 2,
    "train": 3, "resume": 3, "artifact": 3, "integrity": 3, "checkpoint": 3, "forecast": 3,
    "model_data": 3, "sharding": 3, "backtest": 3, "plot": 3, "prediction": 3,
    "api": 4, "fitting": 4,
    "cli": 5, "ui": 5, "options": 5, "stdout": 5,
}
HEAVY = {"torch", "pandas", "numpy", "rich", "yaml", "matplotlib"}


def imports(module: str, top_level_only: bool = False) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks import nothing at run time
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "forecastr":
                found |= {f"forecastr.{alias.name}" for alias in node.names}
    return found


def test_every_module_has_a_layer():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert modules == set(LAYERS)


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_imports_point_down(module):
    for name in imports(module):
        if name.startswith("forecastr.") and name.split(".")[1] in LAYERS:
            target = name.split(".")[1]
            assert LAYERS[target] <= LAYERS[module], f"{module} imports {target}"


@pytest.mark.parametrize("module", sorted(set(LAYERS) - {"cli", "ui", "options", "stdout"}))
def test_the_library_never_imports_click_or_rich(module):
    assert not {name.split(".")[0] for name in imports(module)} & {"click", "rich"}


@pytest.mark.parametrize("module", ["cli", "options", "stdout", "config", "config_values",
                                    "errors"])
def test_light_modules_import_nothing_heavy_at_module_level(module):
    assert not {name.split(".")[0] for name in imports(module, top_level_only=True)} & HEAVY
