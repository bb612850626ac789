"""The Iceberg catalog: one Glue database per lakehouse layer, named as the pipelines expect, located in the
warehouse bucket and protected in prod; a REST catalog creates nothing and only changes the Spark conf."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from contracts.lake import LAKE_LAYERS, glue_database
from spk.engine import render_plan
from spk.plan import Plan

DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"


def test_a_glue_database_per_layer(stack_plan: Plan) -> None:
    databases = {r.name: r for r in stack_plan.of_type(DATABASE)}
    assert set(databases) == {f"{layer}-database" for layer in LAKE_LAYERS}
    bucket = stack_plan.get("aws:s3/bucket:Bucket", "warehouse-bucket").inputs["bucket"]
    catalog = stack_plan.get("spark-platform:catalog:IcebergCatalog", "catalog")
    for layer in LAKE_LAYERS:
        database = databases[f"{layer}-database"]
        name = glue_database(stack_plan.stack, layer)
        assert database.inputs["name"] == name
        assert database.inputs["locationUri"] == f"s3://{bucket}/warehouse/{name}.db"
        assert database.inputs["tags"]["environment"] == stack_plan.stack
        assert database.parent == catalog.urn
        assert database.options.get("protect", False) is (stack_plan.stack == "prod")
    expected = {layer: glue_database(stack_plan.stack, layer) for layer in LAKE_LAYERS}
    assert stack_plan.outputs["glueDatabases"] == expected


def test_jobs_wait_for_the_catalog(stack_plan: Plan) -> None:
    # Depending on the component means depending on each database it holds.
    databases = {r.urn for r in stack_plan.of_type(DATABASE)}
    for resource in stack_plan.of_type("kubernetes:sparkoperator.k8s.io/v1beta2:ScheduledSparkApplication"):
        assert databases <= set(resource.dependencies), resource.name


def test_rest_catalog_replaces_glue(tmp_path: Path, project_root: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project_root / name, tmp_path / name)
    config = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())
    config["config"]["spark-platform:platform"]["spark"]["catalog"] = {
        "kind": "rest",
        "restUri": "https://iceberg-rest.internal.example.com/catalog",
    }
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
    plan = render_plan("dev", tmp_path)
    assert not plan.of_type(DATABASE)
    job = plan.get("kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication", "job-trades-streaming")
    conf = job.inputs["spec"]["sparkConf"]
    assert conf["spark.sql.catalog.lake.type"] == "rest"
    assert conf["spark.sql.catalog.lake.uri"] == "https://iceberg-rest.internal.example.com/catalog"
    assert "spark.sql.catalog.lake.catalog-impl" not in conf
    connect = plan.get("kubernetes:sparkoperator.k8s.io/v1alpha1:SparkConnect", "spark-connect")
    assert connect.inputs["spec"]["sparkConf"]["spark.sql.catalog.lake.type"] == "rest"
