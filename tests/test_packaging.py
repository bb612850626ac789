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
