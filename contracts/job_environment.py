"""The job environment: everything a pipeline job's pod is told about where it runs, as environment variables the
Spark layer renders (components/spark_jobs.py) and the pipelines read back (pipelines/settings.py), plus the
arguments that name the job's entry point and parameters, so the image never looks a spec up by name.

One table, `JOB_SETTINGS`, says for each setting its variable, how it is written and what it means; rendering and
reading both go through it, so the two sides cannot drift. Pure data: no pulumi, no pyspark."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NoReturn, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from contracts.jobs import EntryPoint, JobName, JobSpec
from contracts.lake import EXCHANGES

SourceKind = Literal["files", "kafka"]
DqMode = Literal["fail", "warn"]

#: `s3a://bucket/key` (what Spark's S3A filesystem reads) or `s3://bucket/key` (what Iceberg's S3FileIO writes):
#: a bucket name as S3 allows it (no `..`, not an IP address) and a non-empty key without query or fragment.
S3_URI = re.compile(r"s3a?://(?P<bucket>(?!\d+\.\d+\.\d+\.\d+/)(?![^/]*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>[^?#]+)")
#: A local absolute path or `file:` URI (local runs and tests), nothing ambiguous like `//host/share`.
LOCAL_PATH = re.compile(r"(?:file:)?/(?!/)[^?#]*|file:///[^?#]*")
#: Kafka's own rule for topic names.
KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


class JobEnvironmentError(ValueError):
    """A job's environment or arguments are missing or malformed; the message names the variable or flag."""


def _data_uri(value: str) -> str:
    """A location Spark can list: an S3 URI with a bucket, or an absolute local path / `file:` URI (local runs).
    `Path("s3a://b/k")` would collapse the `//`, which is why locations stay strings end to end."""
    printable = value.isprintable() and value == value.strip()
    if printable and (S3_URI.fullmatch(value.rstrip("/")) or LOCAL_PATH.fullmatch(value)):
        return value.rstrip("/") or "/"
    # The value is not echoed: a URI with credentials in it must not reach a pod log through an error.
    raise ValueError("expected an s3a://bucket/key URI (or an absolute local path)")


DataUri = Annotated[str, AfterValidator(_data_uri)]
def _bootstrap_servers(value: str) -> str:
    for server in value.split(","):
        host, _, port = server.rpartition(":")
        if not (re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", host) and port.isdigit()
                and 1 <= int(port) <= 65535):
            raise ValueError("expected host:port[,host:port] with ports 1-65535")
    return value


def _topics(value: dict[str, str]) -> dict[str, str]:
    """Every exchange gets a topic (a partial map would silently stop ingesting one), each a legal Kafka name."""
    if set(value) != set(EXCHANGES):
        raise ValueError(f"expected a topic for each exchange: {', '.join(EXCHANGES)}")
    # Kafka refuses "." and ".." as topic names.
    if not all(KAFKA_TOPIC.fullmatch(topic) and topic not in (".", "..") for topic in value.values()):
        raise ValueError("expected Kafka topic names of letters, digits, '.', '_' and '-' (at most 249)")
    return value


BootstrapServers = Annotated[str, AfterValidator(_bootstrap_servers)]
KafkaTopics = Annotated[dict[str, str], AfterValidator(_topics)]


def default_topics() -> dict[str, str]:
    return {exchange: f"trades.{exchange}" for exchange in EXCHANGES}


class JobEnvironment(BaseModel):
    """Where one job reads and writes, and how it behaves. Every field is one variable of `JOB_SETTINGS`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_uri: DataUri
    checkpoint_uri: DataUri
    warehouse_uri: DataUri
    database_prefix: str = Field(default="", pattern=r"^[a-z0-9_]*$")
    source: SourceKind = "files"
    kafka_bootstrap_servers: BootstrapServers | None = None
    kafka_topics: KafkaTopics = Field(default_factory=default_topics)
    dq_mode: DqMode = "fail"
    snapshot_expiry_days: int | None = Field(default=None, ge=1, le=3650)
    snapshots_retained: int | None = Field(default=None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _kafka_needs_brokers(self) -> JobEnvironment:
        if self.source == "kafka" and not self.kafka_bootstrap_servers:
            raise ValueError("SPK_SOURCE is kafka: expected SPK_KAFKA_BOOTSTRAP_SERVERS too")
        return self

    def variables(self) -> dict[str, str]:
        """The environment variables that carry this environment (the rendering of a fully known environment)."""
        return {
            setting.variable: setting.encode(value)
            for setting in JOB_SETTINGS
            if (value := getattr(self, setting.field)) is not None
        }

    @classmethod
    def from_variables(cls, environ: Mapping[str, str]) -> JobEnvironment:
        """Read the environment a job was started with; every problem names its variable. Nothing defaults to a
        location: a job whose pod lacks one fails at start instead of writing somewhere the platform never made."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for setting in JOB_SETTINGS:
            raw = environ.get(setting.variable)
            if raw is None or raw == "":
                if setting.required:
                    problems.append(f"{setting.variable}: not set (expected {setting.description})")
                continue
            try:
                values[setting.field] = setting.decode(raw)
            except ValueError as error:
                problems.append(f"{setting.variable}: {error}")
        if not problems:
            try:
                return cls.model_validate(values)
            except ValidationError as error:
                problems.extend(_validation_problems(error))
        raise JobEnvironmentError("job environment: " + "; ".join(problems))


def _validation_problems(error: ValidationError) -> list[str]:
    by_field = {setting.field: setting.variable for setting in JOB_SETTINGS}
    problems = []
    for detail in error.errors(include_url=False):
        field = str(detail["loc"][0]) if detail["loc"] else ""
        # pydantic's `msg` never contains the input, so a misplaced credential cannot reach a log through it.
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(f"{by_field[field]}: {message}" if field in by_field else message)
    return problems


def _encode_topics(topics: Mapping[str, str]) -> str:
    return ",".join(f"{exchange}={topic}" for exchange, topic in sorted(topics.items()))


def _decode_topics(raw: str) -> dict[str, str]:
    topics: dict[str, str] = {}
    for part in raw.split(","):
        exchange, separator, topic = part.strip().partition("=")
        if not separator or not exchange or not topic or "=" in topic or exchange in topics:
            raise ValueError("expected exchange=topic pairs separated by commas, each exchange once")
        if exchange not in EXCHANGES:
            raise ValueError(f"expected exchanges among {', '.join(EXCHANGES)}")
        topics[exchange] = topic
    return topics


def _identity(value: Any) -> str:
    return str(value)


@dataclass(frozen=True)
class JobSetting:
    """One setting of the job environment: its model field, its variable, and how its value is written."""

    field: str
    variable: str
    description: str
    required: bool = False
    encode: Callable[[Any], str] = _identity
    decode: Callable[[str], Any] = str


JOB_SETTINGS: tuple[JobSetting, ...] = (
    JobSetting("raw_uri", "SPK_RAW_URI", "the raw landing root, <uri>/<exchange>/*.jsonl", required=True),
    JobSetting("checkpoint_uri", "SPK_CHECKPOINT_URI", "the streaming checkpoint root, one folder per query",
               required=True),
    JobSetting("warehouse_uri", "SPK_WAREHOUSE_URI", "the Iceberg warehouse of the catalog", required=True),
    JobSetting("database_prefix", "SPK_DATABASE_PREFIX", "the prefix of the lake's namespaces (Glue databases)",
               required=True),
    JobSetting("source", "SPK_SOURCE", "files or kafka: where the streaming ingest reads"),
    JobSetting("kafka_bootstrap_servers", "SPK_KAFKA_BOOTSTRAP_SERVERS", "host:port[,host:port] of the brokers"),
    JobSetting("kafka_topics", "SPK_KAFKA_TOPICS", "exchange=topic pairs", encode=_encode_topics,
               decode=_decode_topics),
    JobSetting("dq_mode", "SPK_DQ_MODE", "fail or warn: what a failed data-quality check does"),
    JobSetting("snapshot_expiry_days", "SPK_EXPIRE_SNAPSHOTS_DAYS", "days table maintenance keeps snapshots",
               decode=int),
    JobSetting("snapshots_retained", "SPK_RETAIN_SNAPSHOTS", "snapshots table maintenance always keeps", decode=int),
)
JOB_VARIABLES: frozenset[str] = frozenset(setting.variable for setting in JOB_SETTINGS)

V = TypeVar("V")


def render_env(values: Mapping[str, V | str | Mapping[str, str] | None]) -> list[dict[str, V | str]]:
    """The pod `env` list for a job, from field values that may be deploy-time placeholders (Pulumi Outputs of
    bucket names): plain values are validated and encoded here; placeholders pass through as they are.
    Refuses an unknown field or a missing required one, so the Spark layer cannot forget a setting."""
    unknown = sorted(set(values) - {setting.field for setting in JOB_SETTINGS})
    if unknown:
        raise JobEnvironmentError(f"job environment: unknown settings {', '.join(unknown)}")
    env: list[dict[str, V | str]] = []
    for setting in JOB_SETTINGS:
        value = values.get(setting.field)
        if value is None:
            if setting.required:
                raise JobEnvironmentError(f"job environment: {setting.field} ({setting.variable}) is required")
            continue
        if isinstance(value, str | int | Mapping):
            _check_plain(setting, value)
            encoded = setting.encode(value)
            if setting.decode(encoded) != value:  # what the pod will read back must be what was meant
                raise JobEnvironmentError(f"job environment: {setting.variable}: does not survive encoding")
            env.append({"name": setting.variable, "value": encoded})
        else:
            env.append({"name": setting.variable, "value": value})
    return env


def _check_plain(setting: JobSetting, value: str | int | Mapping[str, str]) -> None:
    """Validate one known value with its field's own type and constraints."""
    info = JobEnvironment.model_fields[setting.field]
    field_type: Any = Annotated[info.annotation, info]  # the field's type with its own constraints
    try:
        TypeAdapter[Any](field_type).validate_python(value)
    except ValidationError as error:
        problems = [f"{setting.variable}: {str(d['msg']).removeprefix('Value error, ')}" for d in error.errors()]
        raise JobEnvironmentError("job environment: " + "; ".join(problems)) from None


# -- arguments: the entry point and its parameters ---------------------------------------------------------------


class JobInvocation(BaseModel):
    """What the pod's entry point is asked to run: the job's name (metrics, app name), the function to call and
    its parameters. Rendered as the SparkApplication's `arguments`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job: JobName
    entry: EntryPoint
    trigger_seconds: int | None = Field(default=None, ge=1, le=3600)

    @classmethod
    def of(cls, spec: JobSpec) -> JobInvocation:
        return cls(job=spec.name, entry=spec.entry, trigger_seconds=spec.trigger_seconds)

    @property
    def module(self) -> str:
        return self.entry.split(":", 1)[0]

    @property
    def function(self) -> str:
        return self.entry.split(":", 1)[1]

    def arguments(self) -> list[str]:
        rendered = ["--job", self.job, "--entry", self.entry]
        if self.trigger_seconds is not None:
            rendered += ["--trigger-seconds", str(self.trigger_seconds)]
        return rendered

    def options(self) -> dict[str, Any]:
        """Keyword arguments for the entry function beyond `(spark, settings)`."""
        return {} if self.trigger_seconds is None else {"trigger_seconds": self.trigger_seconds}

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--job", required=True, help="the job's name")
        parser.add_argument("--entry", help="module.path:function to call (rendered by the Spark layer)")
        parser.add_argument("--trigger-seconds", type=int, help="streaming jobs: the micro-batch trigger")

    @classmethod
    def from_arguments(cls, parsed: argparse.Namespace) -> JobInvocation:
        if parsed.entry is None:
            raise JobEnvironmentError("job arguments: --entry is required (the Spark layer renders it from the spec)")
        try:
            return cls(job=parsed.job, entry=parsed.entry, trigger_seconds=parsed.trigger_seconds)
        except ValidationError as error:
            problems = [
                f"--{str(detail['loc'][0]).replace('_', '-')}: {str(detail['msg']).removeprefix('Value error, ')}"
                for detail in error.errors(include_url=False)
            ]
            raise JobEnvironmentError("job arguments: " + "; ".join(problems)) from None


class _StrictParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise JobEnvironmentError(f"job arguments: {message}")


def parse_invocation(argv: Sequence[str]) -> JobInvocation:
    """The invocation in a rendered argument list, read as strictly as the pod reads it: an unknown or malformed
    flag is an error (tests and the rehearsal read jobs back this way)."""
    parser = _StrictParser(add_help=False, allow_abbrev=False)
    JobInvocation.add_arguments(parser)
    return JobInvocation.from_arguments(parser.parse_args(list(argv)))
