"""`spk manifests <stack> [-o DIR]`: every Kubernetes object of a stack's offline plan as YAML, for checkov,
`kubectl diff`/`--dry-run=server` and review. Helm releases are not expanded (their charts render in-cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spk.console import console, user_errors
from spk.errors import SpkError
from spk.files import check_writable, write_atomically
from spk.kube_objects import kubernetes_objects, manifest_file_name, to_yaml
from spk.plan import Plan

#: The list of files spk wrote into a manifests folder: the only files a later run may replace or remove.
OWNED_LIST = ".spk-manifests"


def write_manifests(stack: str, out_dir: Path) -> list[Path]:
    """Render the stack offline and write one YAML file per object into `out_dir` (created if missing). Files an
    earlier run wrote and this plan no longer has are removed; no other file is ever touched."""
    from spk.engine import render_plan  # deferred: pulls in the Pulumi SDK and the program

    return write_plan_manifests(render_plan(stack), out_dir)


def _owned(out_dir: Path) -> set[str]:
    listing = out_dir / OWNED_LIST
    if not listing.is_file():
        return set()
    return {line for line in listing.read_text(encoding="utf-8").splitlines() if line and "/" not in line}


def write_plan_manifests(plan: Plan, out_dir: Path) -> list[Path]:
    """`write_manifests` for an already rendered plan."""
    objects = kubernetes_objects(plan)
    if out_dir.exists() and not out_dir.is_dir():
        raise SpkError(f"{out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not (out_dir / OWNED_LIST).is_file() and any(out_dir.iterdir()):
            # Only an empty folder, or one spk wrote before (its list of owned files), is spk's to write into.
            raise SpkError(f"{out_dir}: not empty and not written by spk manifests before; choose an empty folder")
        owned = _owned(out_dir)
        files = {manifest_file_name(obj, index): obj for index, obj in enumerate(objects, start=1)}
        foreign = sorted(name for name in files if (out_dir / name).exists() and name not in owned)
        if foreign:
            raise SpkError(
                f"{out_dir}: refusing to overwrite files spk did not write ({', '.join(foreign[:5])}"
                f"{', …' if len(foreign) > 5 else ''}); choose an empty folder"
            )
        paths = []
        for name, obj in files.items():
            write_atomically(out_dir / name, to_yaml(obj))
            paths.append(out_dir / name)
        write_atomically(out_dir / OWNED_LIST, "".join(f"{name}\n" for name in sorted(files)))
        for stale in sorted(owned - set(files)):
            (out_dir / stale).unlink(missing_ok=True)
    except OSError as error:
        raise SpkError(f"{out_dir}: cannot write manifests ({error.strerror or error})") from None
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
            check_writable(out_dir, folder=True)
            paths = write_manifests(stack, out_dir)
            console.print(f"{len(paths)} manifests written to {out_dir}")
            return
        from spk.engine import render_plan

        objects = kubernetes_objects(render_plan(stack))
    typer.echo("---\n".join(to_yaml(obj) for obj in objects), nl=False)


def register(app: typer.Typer) -> None:
    app.command("manifests")(manifests_command)
