"""Shared fixtures: each shipped stack's offline plan, rendered once per test session through the real
`__main__.py` under Pulumi mocks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from spk.engine import render_plan
from spk.plan import Plan
from spk.schemas import SchemasMissing, pinned_chart_dir
from spk.stack_files import STACKS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    """{stack: Plan} for dev, staging and prod."""
    return {stack: render_plan(stack, PROJECT_ROOT) for stack in STACKS}


@pytest.fixture(scope="session")
def dev_plan(plans: dict[str, Plan]) -> Plan:
    return plans["dev"]


@pytest.fixture(scope="session")
def staging_plan(plans: dict[str, Plan]) -> Plan:
    return plans["staging"]


@pytest.fixture(scope="session")
def prod_plan(plans: dict[str, Plan]) -> Plan:
    return plans["prod"]


@pytest.fixture(params=STACKS)
def stack_plan(request: pytest.FixtureRequest, plans: dict[str, Plan]) -> Plan:
    """Parametrised over every stack: a test using it runs once per stack."""
    return plans[request.param]


@pytest.fixture(scope="session")
def pinned_schemas() -> Callable[..., list[Path]]:
    """`pinned_schemas(stack, chart, ...)`: the upstream schema folders of the chart versions `Pulumi.<stack>.yaml`
    pins (spk.schemas). A test whose schemas are absent is skipped with the one line saying which chart version
    is missing, where it was looked for and how to get it, so a plain clone passes without them."""

    def find(stack: str, *charts: str) -> list[Path]:
        try:
            return [pinned_chart_dir(stack, chart, PROJECT_ROOT) for chart in charts]
        except SchemasMissing as missing:
            pytest.skip(str(missing))

    return find
