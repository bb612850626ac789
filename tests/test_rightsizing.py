"""Rightsizing: node allocatable leaves room for the OS, kubelet and daemons; executor layouts fill a node
without overcommitting it; job specs are checked against their pools."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts import jobs as job_specs
from contracts.jobs import JOBS, job_spec
from spk.cli import app
from spk.cost import PriceTable, find_price_table, load_price_table
from spk.rightsizing import (
    SPARK_MIN_OVERHEAD_MIB,
    allocatable,
    check_job,
    check_jobs,
    executor_layout,
    kube_reserved_cpu_milli,
)
from spk.stack_files import STACKS, read_stack_file

runner = CliRunner()


@pytest.fixture(scope="module")
def table(project_root: Path) -> PriceTable:
    return load_price_table(find_price_table(project_root, "us-east-1"))


def test_kube_reserved_cpu_follows_the_eks_formula() -> None:
    assert kube_reserved_cpu_milli(1) == 60
    assert kube_reserved_cpu_milli(2) == 70
    assert kube_reserved_cpu_milli(4) == 80
    assert kube_reserved_cpu_milli(8) == 90


def test_allocatable_leaves_room_for_os_kubelet_and_daemons(table) -> None:
    node = allocatable("m6i.2xlarge", table.instance("m6i.2xlarge"))
    assert 7000 < node.cpu_milli < 8000
    # 32 GiB minus kernel share, kube-reserved (255 + 11 * 58 MiB), eviction threshold and daemons.
    assert 28 * 1024 < node.memory_mib < 32 * 1024 - 255 - 11 * 58


@pytest.mark.parametrize("instance_type", ["m6i.2xlarge", "r6i.4xlarge", "g5.4xlarge", "m6i.xlarge"])
@pytest.mark.parametrize("cores", [1, 2, 3, 4, 5])
def test_executor_layout_fills_without_overcommitting(table, instance_type: str, cores: int) -> None:
    layout = executor_layout(instance_type, table.instance(instance_type), cores)
    node = layout.node
    assert layout.executors == node.cpu_milli // (cores * 1000)
    if layout.executors:
        assert layout.executors * (layout.heap_mib + layout.overhead_mib) <= node.memory_mib
        assert layout.overhead_mib >= max(SPARK_MIN_OVERHEAD_MIB, layout.heap_mib // 10)
        # Nothing big is left on the table: less than one 256 MiB step plus rounding per executor.
        assert node.memory_mib - layout.executors * (layout.heap_mib + layout.overhead_mib) < layout.executors
        assert layout.conf["spark.executor.memory"] == f"{layout.heap_mib}m"


def test_a_job_too_big_for_its_pool_is_an_error(table, project_root: Path) -> None:
    pools = read_stack_file(project_root, "dev").settings().platform.node_pools
    huge = job_spec(name="huge", description="x", entry="pipelines.batch:run_gold", mode="batch",
                    schedule="0 * * * *", resources={"executor_memory": "40g"})
    fits = check_job(huge, pools, table)
    assert {f.severity for f in fits if f.role == "executor"} == {"error"}
    assert all("does not fit" in f.message for f in fits if f.role == "executor")
    assert {f.severity for f in fits if f.role == "driver"} == {"ok"}


def test_gpu_jobs_need_gpus_on_the_pool(table, project_root: Path) -> None:
    prod = read_stack_file(project_root, "prod").settings().platform.node_pools
    greedy = job_spec(name="greedy", description="x", entry="pipelines.batch:run_gold", mode="batch",
                      schedule="0 * * * *", profile="gpu", resources={"gpus_per_executor": 2})
    assert [f.severity for f in check_job(greedy, prod, table) if f.role == "executor"] == ["error", "error"]


def test_shipped_jobs_fit_every_stack(table, project_root: Path) -> None:
    for stack in STACKS:
        pools = read_stack_file(project_root, stack).settings().platform.node_pools
        errors = [f for f in check_jobs(JOBS, pools, table) if f.severity == "error"]
        assert errors == [], f"{stack}: {errors}"


def test_spk_rightsize_exit_codes(project_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project_root)
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["rightsize", "prod", "--cores", "4"])
    assert result.exit_code == 0, result.output
    assert "r6i.4xlarge" in result.output and "job specs against the prod pools" in result.output
    huge = job_spec(name="huge", description="x", entry="pipelines.batch:run_gold", mode="batch",
                    schedule="0 * * * *", resources={"executor_memory": "200g"})
    monkeypatch.setitem(job_specs.JOBS, "huge", huge)
    # Only the stack's enabled jobs are checked unless --all-jobs.
    assert runner.invoke(app, ["rightsize", "prod"]).exit_code == 0
    failing = runner.invoke(app, ["rightsize", "prod", "--all-jobs"])
    assert failing.exit_code == 1
    assert "does not fit" in failing.output
