"""The project's own names: what every physical name, tag, label and config key starts with. Pure data."""

from __future__ import annotations

from typing import Final

#: Pulumi project name (Pulumi.yaml), the config namespace (`spark-platform:platform`) and the `project` tag.
PROJECT: Final = "spark-platform"
#: Domain of the platform's own Kubernetes labels (`spark-platform.io/pool`, `spark-platform.io/job`, ...).
LABEL_DOMAIN: Final = "spark-platform.io"


def name_prefix(environment: str) -> str:
    """Prefix of every physical name of one stack, so two stacks in one account never collide."""
    return f"{PROJECT}-{environment}"
