"""Spark fixtures shared by every pipeline test: ONE local session (Iceberg on a session temp warehouse) for the
whole run, and per-test settings whose database prefix and raw directory no other test uses.

No `__init__.py` here on purpose: it would make this directory a package named `pipelines` and shadow the real
one. Test file names must therefore be unique across tests/."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from pipelines.runtime import build_session
from pipelines.settings import PipelineSettings

#: Small and fast on 2 cores: two task slots, two shuffle partitions, no UI.
TEST_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
    "spark.ui.enabled": "false",
    # Test frames have a handful of rows: compiling whole-stage code for each query costs more than it saves.
    "spark.sql.codegen.wholeStage": "false",
}


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("warehouse")


@pytest.fixture(scope="session")
def spark(warehouse: Path) -> Iterator[SparkSession]:
    logging.getLogger("pipelines").setLevel(logging.INFO)
    session = build_session(
        "local", app_name="spark-platform-tests", warehouse=warehouse, master="local[2]", conf=TEST_SPARK_CONF
    )
    yield session
    session.stop()


@pytest.fixture
def pipeline_settings(request: pytest.FixtureRequest, tmp_path: Path, warehouse: Path) -> PipelineSettings:
    """Settings of one test: its own namespaces (`lake.t<hash>_bronze`, …), raw dir and checkpoints."""
    prefix = "t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10] + "_"
    return PipelineSettings.local(tmp_path, warehouse=warehouse, database_prefix=prefix)
