"""The one way the platform installs a Helm chart: pinned version, from the chart's own repository, released
under one name that is both the Pulumi resource name and the Helm release name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes


def chart_release(
    name: str,
    *,
    chart: str,
    version: pulumi.Input[str],
    repository: str,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    atomic: bool | None = None,
) -> kubernetes.helm.v3.Release:
    return kubernetes.helm.v3.Release(
        name,
        name=name,
        chart=chart,
        version=version,
        repository_opts=kubernetes.helm.v3.RepositoryOptsArgs(repo=repository),
        namespace=namespace,
        values=dict(values),
        atomic=atomic,
        opts=opts,
    )
