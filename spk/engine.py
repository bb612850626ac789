"""The offline engine: runs the real `__main__.py` and components under Pulumi's mocks with a stack's config,
and returns the full resource graph as a Plan. No Pulumi CLI, provider plugin or cloud credential needed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import runpy
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pulumi.runtime
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from contracts.project import PROJECT
from spk.errors import SpkError
from spk.mocks import CapturingMonitor, PlatformMocks
from spk.plan import Plan, PlannedResource
from spk.stack_files import (
    StackFile,
    disabled_default_providers,
    project_root,
    read_stack_file,
    runtime_config,
)


class ProgramError(SpkError):
    """The Pulumi program failed while running offline."""


@contextlib.contextmanager
def _in_project(root: Path) -> Iterator[None]:
    # The program's packages (components, contracts) are installed with the project; only the working
    # directory matters, as under `pulumi up`, which runs the program from the project folder.
    previous_cwd = Path.cwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(previous_cwd)


def render_plan(stack: str, root: Path | None = None) -> Plan:
    """Validate the stack's config, run the program offline, and return its plan.

    Raises PlatformConfigError for invalid config, ProgramError when the program fails."""
    root = root or project_root()
    stack_file = read_stack_file(root, stack)
    settings = stack_file.settings()
    return _run_program(root, stack_file, settings.region)


def _run_program(root: Path, stack_file: StackFile, region: str) -> Plan:
    mocks = PlatformMocks(region=region)
    monitor = CapturingMonitor(mocks)
    config, secret_keys = runtime_config(root, stack_file)

    # A fresh event loop per run, closed afterwards, so runs in one process never share Pulumi's pending work.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack_file.stack, preview=False, monitor=monitor)
    set_all_config(config, secret_keys)
    # Leftovers of an earlier failed run belong to a closed loop; start clean, as pulumi.runtime.test does.
    pulumi_settings.SETTINGS.rpc_manager.clear()  # pyright: ignore[reportAttributeAccessIssue]  (SDK internals)
    pulumi_settings.SETTINGS.outputs.clear()  # pyright: ignore[reportAttributeAccessIssue]
    # set_mocks registers a throwaway root stack; run the program in a fresh one so its exports are captured.
    pulumi_settings.ROOT.set(None)

    def program() -> None:
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    with _in_project(root):
        try:
            _sync_await(run_in_stack(program))
        except pulumi.RunError as error:
            raise ProgramError(str(error)) from None
        except SpkError:
            raise
        except Exception as error:
            raise ProgramError(f"the program failed offline: {type(error).__name__}: {error}") from error
        finally:
            pulumi_settings.ROOT.set(None)
            loop.close()
            asyncio.set_event_loop(None)

    resources = [
        PlannedResource(
            urn=c.urn,
            type=c.type,
            name=c.name,
            parent=c.parent,
            provider=c.provider,
            dependencies=c.dependencies,
            inputs=c.inputs,
            options=c.options,
        )
        for c in monitor.captured.values()
    ]
    _check_explicit_providers(resources, disabled_default_providers(root, stack_file), stack_file)
    return Plan(
        stack=stack_file.stack,
        project=PROJECT,
        resources=sorted(resources, key=lambda r: r.urn),
        outputs=monitor.stack_outputs,
    )


def _check_explicit_providers(
    resources: list[PlannedResource], disabled: list[str], stack_file: StackFile
) -> None:
    """Emulate `pulumi:disable-default-providers`: the engine refuses such resources without a provider."""
    offenders = [
        r.urn
        for r in resources
        if r.provider is None
        and not r.type.startswith("pulumi:providers:")
        and r.type.split(":")[0] in disabled
        and not r.type.startswith("spark-platform:")
    ]
    if offenders:
        raise ProgramError(
            f"pulumi:disable-default-providers turns off the default {', '.join(disabled)} provider (Pulumi.yaml), "
            f"but these resources of stack {stack_file.stack} name no provider:\n  " + "\n  ".join(offenders)
        )
