"""The two install paths agree: `pulumi up` installs requirements.txt, everyone else pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement


def test_requirements_txt_matches_pyproject(project_root: Path) -> None:
    project = tomllib.loads((project_root / "pyproject.toml").read_text())["project"]
    declared = {Requirement(r).name: Requirement(r).specifier for r in project["dependencies"]}
    lines = (project_root / "requirements.txt").read_text().splitlines()
    pulumi_requirements = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert pulumi_requirements
    for requirement in pulumi_requirements:
        assert requirement.name in declared, f"{requirement.name} is in requirements.txt but not in pyproject.toml"
        assert requirement.specifier == declared[requirement.name], requirement.name


def test_pulumi_project_file(project_root: Path) -> None:
    project = yaml.safe_load((project_root / "Pulumi.yaml").read_text())
    assert project["name"] == "spark-platform"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    assert project["config"]["pulumi:disable-default-providers"]["value"] == ["kubernetes"]


def test_configuration_reference_is_generated_from_the_models(project_root: Path) -> None:
    from spk.config_reference import REFERENCE_PATH, reference_document

    written = (project_root / REFERENCE_PATH).read_text(encoding="utf-8")
    assert written == reference_document(), f"{REFERENCE_PATH} is stale: run `spk config-reference --write`"


def test_requirements_txt_has_everything_the_program_imports(project_root: Path) -> None:
    """The other direction: `pulumi up` runs __main__.py, components/ and contracts/ from ./venv, so every
    third-party distribution they import must be in requirements.txt (a missing one is an ImportError on the
    user's first `pulumi up`, invisible here where the dev venv has everything)."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    files = [project_root / "__main__.py", *(project_root / "components").rglob("*.py"),
             *(project_root / "contracts").rglob("*.py")]
    imported: set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    local = {"components", "contracts", "__future__"}
    third_party = {name for name in imported - local if name not in sys.stdlib_module_names}
    distributions = packages_distributions()
    needed = {Requirement(distributions[name][0]).name.lower().replace("_", "-") for name in third_party}
    lines = (project_root / "requirements.txt").read_text().splitlines()
    listed = {Requirement(line).name.lower() for line in lines if line.strip() and not line.startswith("#")}
    assert "pulumi-tls" in needed  # the scan sees the program's providers
    # A distribution a listed one depends on (pydantic-core under pydantic) is installed with it.
    from importlib.metadata import requires
    installed_with = {
        Requirement(dependency).name.lower().replace("_", "-")
        for name in listed for dependency in (requires(name) or []) if "extra ==" not in dependency
    }
    assert needed <= listed | installed_with, (
        f"imported by the program but missing from requirements.txt: {sorted(needed - listed - installed_with)}"
    )
