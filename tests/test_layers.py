"""The architecture as a test: imports point one way, from the CLI down to the data, and the
library never imports click or rich (STYLE.md's import layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "forecastr"
LAYERS = {  # module (its path under forecastr/) -> layer
    "clock": 0, "config": 0, "config_values": 0, "data.panel": 0, "data.shards": 0, "errors": 0,
    "evaluation.metrics": 0, "network.conformal": 0, "network.outputs": 0, "training.stopping": 0,
    "version": 0,
    "data.arrow_csv": 1, "data.calendar": 1, "data.chunks": 1, "data.csv_text": 1,
    "data.future": 1, "data.reader": 1, "data.source": 1, "data.timegrid": 1, "data.times": 1,
    "data.writer": 1,
    "forecasting.table": 1, "network.scaling": 1, "network.static": 1, "network.theta": 1,
    "tuning.space": 1, "tuning.trials": 1,
    "data.future_values": 2, "modelfile.container": 2, "modelfile.contents": 2,
    "network.device": 2, "network.inputs": 2, "network.model": 2, "network.threads": 2,
    "network.windows": 2, "training.distributed": 2, "training.sampling": 2,
    "evaluation.backtest": 3, "evaluation.plot": 3, "forecasting.forecast": 3,
    "forecasting.frames": 3, "forecasting.model_data": 3, "forecasting.prediction": 3,
    "modelfile.artifact": 3, "modelfile.integrity": 3, "training.checkpoint": 3,
    "training.resume": 3, "training.sharded_panel": 3, "training.train": 3,
    "api": 4, "evaluation.evaluate": 4, "training.fitting": 4, "tuning.holdout": 4,
    "tuning.search": 4, "tuning.trial_loop": 4,
    "cli.commands": 5, "cli.launch": 5, "cli.options": 5, "cli.stdout": 5, "cli.ui": 5,
}
HEAVY = {"torch", "pandas", "numpy", "rich", "yaml", "matplotlib"}


def imports(module: str, top_level_only: bool = False) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module.replace('.', '/')}.py").read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks import nothing at run time
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module.startswith("forecastr"):  # from forecastr.data import reader
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_every_module_has_a_layer():
    modules = {".".join(p.relative_to(PACKAGE).with_suffix("").parts)
               for p in PACKAGE.rglob("*.py") if p.stem not in ("__init__", "__main__")}
    assert modules == set(LAYERS)


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_imports_point_down(module):
    for name in imports(module):
        target = name.removeprefix("forecastr.")
        if name.startswith("forecastr.") and target in LAYERS:
            assert LAYERS[target] <= LAYERS[module], f"{module} imports {target}"


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_no_module_takes_a_name_from_the_package_itself(module):
    # the package's __init__ re-exports the library: a module that took a name from it
    # (rather than a module: `from forecastr import api`) would reach above its own layer
    tree = ast.parse((PACKAGE / f"{module.replace('.', '/')}.py").read_text(encoding="utf-8"))
    taken = {alias.name for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.module == "forecastr"
             for alias in node.names}
    assert taken <= set(LAYERS) | {p.name for p in PACKAGE.iterdir() if p.is_dir()}, module


@pytest.mark.parametrize("module", sorted(m for m in LAYERS if not m.startswith("cli.")))
def test_the_library_never_imports_click_or_rich(module):
    assert not {name.split(".")[0] for name in imports(module)} & {"click", "rich"}


@pytest.mark.parametrize("module", ["cli.commands", "cli.options", "cli.stdout", "config",
                                    "config_values", "errors", "version"])
def test_light_modules_import_nothing_heavy_at_module_level(module):
    assert not {name.split(".")[0] for name in imports(module, top_level_only=True)} & HEAVY
