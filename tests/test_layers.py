"""The project's layering: the import-linter contracts in pyproject.toml hold, no module of the project imports
itself back through another (no cycles, TYPE_CHECKING imports included), and nothing edits the import path."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import grimp

PACKAGES = ("contracts", "components", "pipelines", "spark_platform_policies", "spk")


def test_import_linter_contracts_hold(project_root: Path) -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], cwd=project_root, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    modules = sorted(m for m in graph.modules if not m.endswith("__init__"))
    cycles = []
    for first, second in itertools.combinations(modules, 2):
        if graph.direct_import_exists(importer=first, imported=second) and graph.find_shortest_chain(
            importer=second, imported=first
        ):
            cycles.append(f"{first} <-> {second}")
        elif graph.direct_import_exists(importer=second, imported=first) and graph.find_shortest_chain(
            importer=first, imported=second
        ):
            cycles.append(f"{second} <-> {first}")
    assert cycles == []


def test_nothing_edits_the_import_path(project_root: Path) -> None:
    listing = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"]
    tracked = subprocess.run(listing, cwd=project_root, capture_output=True, text=True, check=True).stdout.split()
    offenders = [
        path for path in tracked
        if "sys.path" in (project_root / path).read_text(encoding="utf-8") and path != "tests/test_layers.py"
    ]
    assert offenders == []
