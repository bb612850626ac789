"""The JVM artifacts a local session adds to Spark: the coordinates of contracts/jvm.py through
`spark.jars.packages`, which Spark resolves with its own Ivy (Maven Central, then the local Ivy and Maven caches)
and caches under `spark.jars.ivy` (default `~/.ivy2`), so only the first run downloads.

`SPK_JARS_ON_CLASSPATH=1` (the Spark image sets it) means nothing is resolved: in the image the jars are in
`contracts.jvm.IMAGE_JARS_DIR`, and each job's rendered spec puts the ones it needs on its classpath."""

from __future__ import annotations

import os
from collections.abc import Mapping

from contracts.jvm import SESSION_PACKAGES

ON_CLASSPATH_ENV = "SPK_JARS_ON_CLASSPATH"
IVY_ENV = "SPK_IVY_DIR"


def packages_conf(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The session conf that brings the artifacts: `spark.jars.packages` (+ `spark.jars.ivy` when `SPK_IVY_DIR` is
    set), or nothing when they are on the classpath already."""
    env = os.environ if environ is None else environ
    if env.get(ON_CLASSPATH_ENV) == "1":
        return {}
    conf = {"spark.jars.packages": ",".join(artifact.coordinate for artifact in SESSION_PACKAGES)}
    if env.get(IVY_ENV):
        conf["spark.jars.ivy"] = env[IVY_ENV]
    return conf
