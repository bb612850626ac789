"""`spk bootstrap <stack>`: the first `pulumi up` of a new stack, whose deploy runner does not exist yet. It prints
the command that creates everything except the in-cluster layer (the Kubernetes provider and all that depends on
it), which needs no path into the VPC; the deploy workflow then runs the full `pulumi up` from the runner."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from spk.console import console, user_errors
from spk.errors import SpkError
from spk.plan import Plan

KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


def bootstrap_command(stack: str, plan: Plan) -> list[str]:
    """`pulumi up` excluding the cluster's Kubernetes provider and its dependents, by the provider's exact URN."""
    providers = [r for r in plan.resources if r.type == KUBERNETES_PROVIDER]
    if len(providers) != 1:
        raise SpkError(f"{stack}: expected one Kubernetes provider in the plan, found {len(providers)}")
    if not any(r.type == "aws:codebuild/project:Project" for r in plan.resources):
        raise SpkError(f"{stack}: the stack has no cluster.deployRunner; deploy from a machine in deployEgressCidrs")
    return ["pulumi", "up", "--stack", stack, "--policy-pack", "policies", "--exclude", providers[0].urn,
            "--exclude-dependents"]


def bootstrap(
    stack: Annotated[str, typer.Argument(help="Stack name (dev, staging, prod).")],
) -> None:
    """Print the first `pulumi up` of a new stack: the AWS layer and the deploy runner, not the in-cluster layer."""
    with user_errors():
        from spk.engine import render_plan

        command = bootstrap_command(stack, render_plan(stack))
    console.print("Run once, from a workstation with AWS credentials for the account (no cluster access needed):")
    console.print(shlex.join(command), soft_wrap=True, markup=False, highlight=False)
    console.print("Then run the deploy workflow: it runs the full `pulumi up` on the stack's runner in the VPC.")


def register(app: typer.Typer) -> None:
    app.command("bootstrap")(bootstrap)
