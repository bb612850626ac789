"""Where the Iceberg Spark runtime comes from, in this order:

1. `SPK_ICEBERG_JARS` — explicit comma-separated jar paths (what the cluster image sets).
2. The official Maven artifact `org.apache.iceberg:iceberg-spark-runtime-3.5_2.12` through `spark.jars.packages`,
   when it can be resolved: it is already in the local Ivy/Maven cache, or `SPK_ICEBERG_MAVEN=1` says the network
   may be used. Never attempted blind, so an offline run does not wait on a resolver timeout.
3. Offline: the runtime jar inside the PyPI wheel `snowpark-connect-deps-iceberg`. That repackaged jar lacks
   Iceberg's shaded Jackson, so we add a jar built once from pyspark's own Jackson jars with their classes moved
   to `org.apache.iceberg.shaded.com.fasterxml.jackson` (what maven-shade's relocation does: rewrite the class
   names in each class file's constant pool), cached under a key derived from the input jars' contents.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ICEBERG_VERSION = "1.10.0"
MAVEN_COORDINATE_PREFIX = "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:"
MAVEN_COORDINATES = f"{MAVEN_COORDINATE_PREFIX}{ICEBERG_VERSION}"
JARS_ENV = "SPK_ICEBERG_JARS"
MAVEN_ENV = "SPK_ICEBERG_MAVEN"
CACHE_ENV = "SPK_CACHE_DIR"

#: The Jackson modules the Iceberg runtime's classes reference under its shaded package: core, databind,
#: annotations, and the java.time module (jsr310) its JSON parsers register.
JACKSON_JARS = re.compile(r"^jackson-(core|databind|annotations|datatype-jsr310)-\d[\d.]*\.jar$")
#: Bump when the relocation logic changes, so cached jars built by an older version are not reused.
RELOCATION_VERSION = "2"
ORIGINAL = "com/fasterxml/jackson/"
RELOCATED = "org/apache/iceberg/shaded/com/fasterxml/jackson/"
# Class names appear slashed in descriptors and dotted in reflective string constants and service files.
# In descriptors a class name follows `L` (`(Lcom/fasterxml/jackson/core/JsonParser;)V`).
_VERSION = re.compile(r"-(1\.10\.\d+)\.jar$")
_SLASHED = re.compile(rb"(?:(?<=L)|(?<![A-Za-z0-9_/$]))com/fasterxml/jackson/")
_DOTTED = re.compile(rb"(?<![A-Za-z0-9_.$])com\.fasterxml\.jackson\.")


class IcebergJarError(RuntimeError):
    """No usable Iceberg runtime: the message says what was looked for and where."""


@dataclass(frozen=True)
class IcebergJars:
    """Either local jar `paths` (spark.jars) or Maven `packages` (spark.jars.packages); `source` is which rule
    chose them (explicit | maven | wheel) and `reason` why, for the log line and `spk` output."""

    source: str
    reason: str
    paths: tuple[Path, ...] = ()
    packages: tuple[str, ...] = field(default=())

    def spark_conf(self) -> dict[str, str]:
        if self.packages:
            return {"spark.jars.packages": ",".join(self.packages)}
        return {"spark.jars": ",".join(str(jar) for jar in self.paths)}


def resolve_iceberg_jars(environ: dict[str, str] | None = None) -> IcebergJars:
    env = os.environ if environ is None else environ
    explicit = env.get(JARS_ENV, "").strip()
    if explicit:
        paths = tuple(Path(part.strip()) for part in explicit.split(",") if part.strip())
        missing = [str(path) for path in paths if not path.is_file()]
        if missing:
            raise IcebergJarError(f"{JARS_ENV} names jars that do not exist: {', '.join(missing)}")
        return IcebergJars("explicit", f"{JARS_ENV} is set", paths=paths)
    cached = maven_cached(Path(env.get("HOME") or Path.home()))
    if cached or env.get(MAVEN_ENV) == "1":
        why = f"{MAVEN_COORDINATE_PREFIX}{cached} is in the local Ivy/Maven cache" if cached else f"{MAVEN_ENV}=1"
        return IcebergJars("maven", why, packages=(f"{MAVEN_COORDINATE_PREFIX}{cached or ICEBERG_VERSION}",))
    runtime = _wheel_runtime_jar()
    jackson = relocated_jackson_jar(_pyspark_jars_dir(), cache_dir(env))
    return IcebergJars(
        "wheel",
        "offline: Maven artifact not cached; using snowpark-connect-deps-iceberg + relocated pyspark Jackson",
        paths=(runtime, jackson),
    )


def cache_dir(env: os._Environ[str] | dict[str, str]) -> Path:
    root = env.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "spark-platform")
    return Path(root)


def maven_cached(home: Path) -> str | None:
    """The newest 1.10.x runtime already in the Ivy or Maven cache, or None. Only a cache hit counts: an offline
    resolver attempt would stall every run on network timeouts."""
    artifact = "iceberg-spark-runtime-3.5_2.12"
    found = [
        *(home / ".ivy2" / "jars").glob(f"org.apache.iceberg_{artifact}-1.10.*.jar"),
        *(home / ".ivy2.5.2" / "jars").glob(f"org.apache.iceberg_{artifact}-1.10.*.jar"),
        *(home / ".m2/repository/org/apache/iceberg" / artifact).glob(f"1.10.*/{artifact}-1.10.*.jar"),
    ]
    versions = {_VERSION.search(jar.name).group(1) for jar in found if _VERSION.search(jar.name)}  # type: ignore[union-attr]
    return max(versions, key=lambda v: tuple(int(part) for part in v.split("."))) if versions else None


def _wheel_runtime_jar() -> Path:
    try:
        import snowpark_connect_deps_iceberg
    except ImportError:
        raise IcebergJarError(
            f"no Iceberg runtime: set {JARS_ENV}, allow Maven with {MAVEN_ENV}=1, or install the 'spark' extra "
            "(snowpark-connect-deps-iceberg)"
        ) from None
    jars_dir = Path(snowpark_connect_deps_iceberg.__file__).parent / "jars"
    found = sorted(jars_dir.glob("iceberg-spark-runtime-3.5_2.12-*.jar"))
    if not found:
        raise IcebergJarError(f"{jars_dir}: expected iceberg-spark-runtime-3.5_2.12-*.jar, found none")
    return found[-1]


def _pyspark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def relocated_jackson_jar(pyspark_jars: Path, cache: Path) -> Path:
    """Build (once) and return the jar of pyspark's Jackson classes relocated into Iceberg's shaded package."""
    sources = sorted(jar for jar in pyspark_jars.glob("jackson-*.jar") if JACKSON_JARS.match(jar.name))
    found = {JACKSON_JARS.match(jar.name).group(1) for jar in sources}  # type: ignore[union-attr]
    if not {"core", "databind", "annotations"} <= found:
        names = ", ".join(jar.name for jar in sources) or "none"
        raise IcebergJarError(f"{pyspark_jars}: expected jackson core/databind/annotations jars, found {names}")
    digest = hashlib.sha256(RELOCATION_VERSION.encode())
    for jar in sources:
        digest.update(jar.name.encode())
        digest.update(hashlib.sha256(jar.read_bytes()).digest())
    key = digest.hexdigest()[:16]
    target = cache / f"iceberg-shaded-jackson-{key}.jar"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    log.info("building %s from %s", target, ", ".join(jar.name for jar in sources))
    with tempfile.NamedTemporaryFile(dir=cache, suffix=".jar.tmp", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        write_relocated_jar(sources, temporary)
        temporary.replace(target)  # atomic: concurrent builders never see a half-written jar
    finally:
        temporary.unlink(missing_ok=True)
    return target


def write_relocated_jar(sources: Iterable[Path], target: Path) -> None:
    seen: set[str] = set()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for source in sources:
            with zipfile.ZipFile(source) as jar:
                for entry in jar.infolist():
                    name = relocate_entry_name(entry.filename)
                    if name is None or name in seen or entry.is_dir():
                        continue
                    seen.add(name)
                    data = jar.read(entry)
                    if name.endswith(".class"):
                        data = relocate_class(data)
                    elif name.startswith("META-INF/services/"):
                        data = _DOTTED.sub(b"org.apache.iceberg.shaded.com.fasterxml.jackson.", data)
                    out.writestr(name, data)


def relocate_entry_name(name: str) -> str | None:
    """Where an entry of a Jackson jar goes in the relocated jar; None to drop it."""
    if name.startswith(ORIGINAL):
        return RELOCATED + name[len(ORIGINAL) :]
    if name.startswith("META-INF/services/com.fasterxml.jackson."):
        return "META-INF/services/org.apache.iceberg.shaded." + name[len("META-INF/services/") :]
    # Manifests, module-info and multi-release variants describe the unrelocated jar: leave them out.
    return None


def relocate_class(data: bytes) -> bytes:
    """Rewrite every CONSTANT_Utf8 that names a Jackson class; the rest of the class file is unchanged."""
    if data[:4] != b"\xca\xfe\xba\xbe":
        raise IcebergJarError("not a class file (bad magic)")
    count = struct.unpack_from(">H", data, 8)[0]
    out = bytearray(data[:10])
    offset, index = 10, 1
    while index < count:
        tag = data[offset]
        if tag == 1:
            length = struct.unpack_from(">H", data, offset + 1)[0]
            text = data[offset + 3 : offset + 3 + length]
            text = _SLASHED.sub(RELOCATED.encode(), text)
            text = _DOTTED.sub(b"org.apache.iceberg.shaded.com.fasterxml.jackson.", text)
            out += bytes([1]) + struct.pack(">H", len(text)) + text
            offset += 3 + length
        else:
            size = _CONSTANT_SIZES.get(tag)
            if size is None:
                raise IcebergJarError(f"unknown constant pool tag {tag} at offset {offset}")
            out += data[offset : offset + 1 + size]
            offset += 1 + size
            if tag in (5, 6):  # long and double take two slots
                index += 1
        index += 1
    out += data[offset:]
    return bytes(out)


# Payload sizes of the non-Utf8 constant pool entries (JVM spec §4.4).
_CONSTANT_SIZES = {
    3: 4,
    4: 4,
    5: 8,
    6: 8,
    7: 2,
    8: 2,
    9: 4,
    10: 4,
    11: 4,
    12: 4,
    15: 3,
    16: 2,
    17: 4,
    18: 4,
    19: 2,
    20: 2,
}
