"""`spk manifests <stack> [-o DIR]`: every Kubernetes object of a stack's offline plan as YAML, for checkov,
`kubectl diff`/`--dry-run=server` and review. Helm releases are not expanded (their charts render in-cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spk.console import console, user_errors
from spk.errors import SpkError
from spk.kube_objects import kubernetes_objects, manifest_file_name, to_yaml
from spk.plan import Plan


def write_manifests(stack: str, out_dir: Path) -> list[Path]:
    """Render the stack offline and write one YAML file per object into `out_dir` (created if missing); stale
    `*.yaml` files from an earlier run are removed so the folder is exactly the plan."""
    from spk.engine import render_plan  # deferred: pulls in the Pulumi SDK and the program

    return write_plan_manifests(render_plan(stack), out_dir)


def write_plan_manifests(plan: Plan, out_dir: Path) -> list[Path]:
    """`write_manifests` for an already rendered plan."""
    objects = kubernetes_objects(plan)
    if out_dir.exists() and not out_dir.is_dir():
        raise SpkError(f"{out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.yaml"):
        stale.unlink()
    paths = []
    for index, obj in enumerate(objects, start=1):
        path = out_dir / manifest_file_name(obj, index)
        path.write_text(to_yaml(obj), encoding="utf-8")
        paths.append(path)
    return paths


def manifests_command(
    stack: Annotated[str, typer.Argument(help="Stack name (dev, staging, prod).")],
    out_dir: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write one YAML file per object into this folder.")
    ] = None,
) -> None:
    """Write every Kubernetes object of the stack's offline plan as YAML (to stdout, or one file each with -o)."""
    with user_errors():
        if out_dir is not None:
            paths = write_manifests(stack, out_dir)
            console.print(f"{len(paths)} manifests written to {out_dir}")
            return
        from spk.engine import render_plan

        objects = kubernetes_objects(render_plan(stack))
    typer.echo("---\n".join(to_yaml(obj) for obj in objects), nl=False)


def register(app: typer.Typer) -> None:
    app.command("manifests")(manifests_command)
