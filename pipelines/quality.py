"""Data quality: declarative checks per layer (not-null, range, accepted values, row rules, uniqueness, freshness,
conservation), run fail-fast or warn, results appended to the DQ table; and schema drift of raw input.

Kept small on purpose: pandera's PySpark API is not installed and would add little over one aggregation per
table. Each table is scanned once for all its row-level checks."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from contracts.lake import TableNames
from pipelines.errors import DataQualityError
from pipelines.schemas import DQ_RESULTS, RAW_SCHEMAS, SCHEMA_DRIFT
from pipelines.settings import PipelineSettings

log = logging.getLogger(__name__)

Severity = Literal["error", "warn"]


# -- declarations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotNull:
    table: str  # attribute of TableNames: bronze | silver | dlq | gold_minute | gold_hour
    columns: tuple[str, ...]
    severity: Severity = "error"


@dataclass(frozen=True)
class InRange:
    """`low < column` (or `<=` when inclusive) and `column <= high`; None means unbounded."""

    table: str
    column: str
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    severity: Severity = "error"


@dataclass(frozen=True)
class Accepted:
    table: str
    column: str
    values: tuple[str, ...]
    severity: Severity = "error"


@dataclass(frozen=True)
class RowRule:
    """A named boolean SQL expression every row must satisfy."""

    table: str
    name: str
    condition: str
    severity: Severity = "error"


@dataclass(frozen=True)
class Unique:
    table: str
    columns: tuple[str, ...]
    severity: Severity = "error"


@dataclass(frozen=True)
class Fresh:
    """The newest `column` is at most `settings.freshness_seconds` old. Empty tables are not stale."""

    table: str
    column: str
    severity: Severity = "warn"


@dataclass(frozen=True)
class Conserved:
    """Every bronze record is in silver or the DLQ, exactly once (duplicates are DLQ rows with their reason)."""

    severity: Severity = "error"


Check = NotNull | InRange | Accepted | RowRule | Unique | Fresh | Conserved

CHECKS: tuple[Check, ...] = (
    NotNull("bronze", ("record_id", "exchange", "payload", "origin", "position", "ingest_time")),
    Unique("bronze", ("record_id",)),
    NotNull("silver", ("exchange", "trade_id", "symbol", "price", "quantity", "trade_time", "record_id")),
    InRange("silver", "price", low=0, low_inclusive=False),
    InRange("silver", "quantity", low=0, low_inclusive=False),
    Accepted("silver", "side", ("buy", "sell")),
    Accepted("silver", "exchange", ("binance", "kraken")),
    Unique("silver", ("exchange", "trade_id")),
    Unique("silver", ("record_id",)),
    Fresh("silver", "trade_time"),
    NotNull("dlq", ("record_id", "reason", "origin")),
    Unique("dlq", ("record_id",)),
    RowRule("gold_minute", "ohlc_within_low_high", "low <= open AND open <= high AND low <= close AND close <= high"),
    RowRule("gold_minute", "vwap_within_low_high", "vwap BETWEEN low AND high"),
    RowRule("gold_minute", "counts_add_up", "trade_count = binance_trades + kraken_trades AND trade_count > 0"),
    Unique("gold_minute", ("symbol", "window_start")),
    Unique("gold_hour", ("symbol", "window_start")),
    Conserved(),
)


@dataclass(frozen=True)
class CheckResult:
    layer: str
    check: str
    passed: bool
    observed: str
    expected: str
    severity: Severity


@dataclass(frozen=True)
class QualityReport:
    run_id: str
    results: tuple[CheckResult, ...]

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(result for result in self.results if not result.passed)


# -- evaluation -----------------------------------------------------------------------------------------------


def _row_condition(check: NotNull | InRange | Accepted | RowRule) -> tuple[str, Column, str]:
    """(check name, condition every row must meet, what was expected)."""
    if isinstance(check, NotNull):
        condition = F.lit(True)
        for column in check.columns:
            condition = condition & F.col(column).isNotNull()
        return f"not_null({','.join(check.columns)})", condition, "0 rows with nulls"
    if isinstance(check, InRange):
        column = F.col(check.column)
        condition = F.lit(True)
        if check.low is not None:
            condition = condition & (column >= check.low if check.low_inclusive else column > check.low)
        if check.high is not None:
            condition = condition & (column <= check.high)
        low = "-inf" if check.low is None else f"{check.low}"
        bounds = f"{'[' if check.low_inclusive else '('}{low}, {'inf' if check.high is None else check.high}]"
        return f"range({check.column} in {bounds})", condition, "0 rows outside"
    if isinstance(check, Accepted):
        return f"accepted({check.column})", F.col(check.column).isin(*check.values), f"only {'|'.join(check.values)}"
    return check.name, F.expr(check.condition), "0 rows violating"


def _evaluate_table(
    spark: SparkSession,
    tables: TableNames,
    table: str,
    checks: Sequence[Check],
    freshness_seconds: int,
    as_of: datetime | None = None,
) -> list[CheckResult]:
    frame = spark.table(getattr(tables, table))
    layer = table  # the DQ table's `layer`: bronze | silver | dlq | gold_minute | gold_hour
    row_checks = [check for check in checks if isinstance(check, NotNull | InRange | Accepted | RowRule)]
    aggregates = [F.count(F.lit(1)).alias("_rows")]
    named = [_row_condition(check) for check in row_checks]
    aggregates += [
        F.count(F.when(~F.coalesce(cond, F.lit(False)), 1)).alias(f"_c{i}") for i, (_, cond, _) in enumerate(named)
    ]
    fresh = [check for check in checks if isinstance(check, Fresh)]
    aggregates += [F.max(check.column).alias(f"_f{i}") for i, check in enumerate(fresh)]
    stats = frame.agg(*aggregates).first()
    assert stats is not None  # a global aggregate always yields one row
    results = [
        CheckResult(
            layer, name, stats[f"_c{i}"] == 0, f"{stats[f'_c{i}']} of {stats['_rows']} rows", expected, check.severity
        )
        for i, ((name, _, expected), check) in enumerate(zip(named, row_checks, strict=True))
    ]
    for check in checks:
        if isinstance(check, Unique):
            repeated = frame.groupBy(*check.columns).count().where("count > 1").count()
            results.append(
                CheckResult(
                    layer,
                    f"unique({','.join(check.columns)})",
                    repeated == 0,
                    f"{repeated} repeated keys",
                    "0 repeated keys",
                    check.severity,
                )
            )
    # Session time zone is UTC; Spark returns naive datetimes. A replay measures at its own clock (`as_of`).
    now = (as_of or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    for i, check in enumerate(fresh):
        newest = stats[f"_f{i}"]
        age = None if newest is None else (now - newest).total_seconds()
        observed = "empty table" if age is None else f"newest {newest.isoformat()} ({age:.0f}s old)"
        results.append(
            CheckResult(
                layer,
                f"freshness({check.column})",
                age is None or age <= freshness_seconds,
                observed,
                f"<= {freshness_seconds}s old",
                check.severity,
            )
        )
    return results


def _conservation(spark: SparkSession, tables: TableNames, check: Conserved) -> CheckResult:
    bronze = spark.table(tables.bronze).select("record_id")
    landed = spark.table(tables.silver).select("record_id").unionByName(spark.table(tables.dlq).select("record_id"))
    lost = bronze.join(landed, "record_id", "left_anti").count()
    counts = {name: spark.table(getattr(tables, name)).count() for name in ("bronze", "silver", "dlq")}
    passed = lost == 0 and counts["bronze"] == counts["silver"] + counts["dlq"]
    observed = f"bronze {counts['bronze']}, silver {counts['silver']}, dlq {counts['dlq']}, unaccounted {lost}"
    return CheckResult(
        "all", "conservation", passed, observed, "bronze = silver + dlq, none unaccounted", check.severity
    )


def evaluate(spark: SparkSession, settings: PipelineSettings, checks: Sequence[Check] = CHECKS) -> QualityReport:
    """Measure every check; no writes, no raising (see `run_quality`)."""
    results: list[CheckResult] = []
    by_table: dict[str, list[Check]] = {}
    for check in checks:
        if not isinstance(check, Conserved):
            by_table.setdefault(check.table, []).append(check)
    for table, table_checks in by_table.items():
        results += _evaluate_table(
            spark, settings.tables, table, table_checks, settings.freshness_seconds, settings.as_of
        )
    results += [_conservation(spark, settings.tables, check) for check in checks if isinstance(check, Conserved)]
    return QualityReport(uuid.uuid4().hex, tuple(results))


def record(spark: SparkSession, report: QualityReport, tables: TableNames) -> None:
    checked_at = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (report.run_id, checked_at, r.layer, r.check, r.passed, r.observed, r.expected, r.severity)
        for r in report.results
    ]
    spark.createDataFrame(rows, DQ_RESULTS).writeTo(tables.dq_results).append()


def run_quality(spark: SparkSession, settings: PipelineSettings, checks: Sequence[Check] = CHECKS) -> QualityReport:
    """Evaluate, record the results, then in `fail` mode raise if an error-severity check failed (after
    recording, so the failure is in the DQ table too). In `warn` mode failures are logged only."""
    from pipelines.tables import ensure_tables

    ensure_tables(spark, settings.tables)
    report = evaluate(spark, settings, checks)
    record(spark, report, settings.tables)
    for failure in report.failures:
        log.warning(
            "DQ %s %s/%s failed: observed %s, expected %s",
            failure.severity,
            failure.layer,
            failure.check,
            failure.observed,
            failure.expected,
        )
    errors = [failure for failure in report.failures if failure.severity == "error"]
    if errors and settings.dq_mode == "fail":
        listed = "; ".join(f"{f.layer}/{f.check}: observed {f.observed}, expected {f.expected}" for f in errors)
        raise DataQualityError(f"{len(errors)} check(s) failed (run {report.run_id}): {listed}", step="quality")
    return report


# -- schema drift ---------------------------------------------------------------------------------------------

DriftChange = Literal["new", "missing", "changed"]


@dataclass(frozen=True)
class DriftFinding:
    exchange: str
    field: str
    change: DriftChange
    records: int
    detail: str


#: JSON value kinds a Spark type is read from (Spark's JSON reader accepts these without nulling the field).
_JSON_KINDS = {"string": ("string",), "bigint": ("number",), "double": ("number",), "boolean": ("boolean",)}


def _json_kind(payload: Column, field: str) -> Column:
    """The JSON kind of a top-level field's value, from the first character after `"field":`. Trade messages are
    flat, so a key at the top level is the only one with that name."""
    first = F.regexp_extract(payload, f'"{field}"\\s*:\\s*(.)', 1)
    return (
        F.when(first == '"', "string")
        .when(first.rlike("[-0-9]"), "number")
        .when(first.isin("t", "f"), "boolean")
        .when(first == "n", "null")
        .when(first == "{", "object")
        .when(first == "[", "array")
    )


def detect_drift(raw: DataFrame, exchange: str) -> list[DriftFinding]:
    """Fields of `exchange`'s well-formed JSON payloads (column `payload`; rows of other exchanges are ignored
    when there is an `exchange` column) compared with its declared schema: fields not declared (`new`), declared
    but absent (`missing`), or present with another JSON kind than declared (`changed`). Malformed JSON is the
    DLQ's business, not drift. A `json_keys` column (silver's `ValidationResult.keyed`) is used as the keys when
    present, so the payloads are not parsed again."""
    schema = RAW_SCHEMAS.get(exchange)
    if schema is None:
        raise ValueError(f"no declared schema for exchange {exchange!r}; expected one of {sorted(RAW_SCHEMAS)}")
    rows = raw.where(F.col("exchange") == exchange) if "exchange" in raw.columns else raw
    keys = F.col("json_keys") if "json_keys" in raw.columns else F.json_object_keys("payload")
    keyed = rows.select("payload", keys.alias("keys")).where(F.col("keys").isNotNull())
    declared = {f.name: _JSON_KINDS.get(f.dataType.simpleString(), ()) for f in schema.fields}
    aggregates = [F.count(F.lit(1)).alias("_rows")]
    for i, (name, kinds) in enumerate(declared.items()):
        kind = _json_kind(F.col("payload"), name)
        aggregates.append(F.count(F.when(~F.array_contains("keys", name), 1)).alias(f"_m{i}"))
        aggregates.append(
            F.count(F.when(F.array_contains("keys", name) & ~kind.isin("null", *kinds), 1)).alias(f"_c{i}")
        )
        aggregates.append(
            F.first(F.when(F.array_contains("keys", name) & ~kind.isin("null", *kinds), kind), ignorenulls=True).alias(
                f"_k{i}"
            )
        )
    stats = keyed.agg(*aggregates).first()
    assert stats is not None
    findings = []
    for i, (name, kinds) in enumerate(declared.items()):
        if stats[f"_m{i}"]:
            findings.append(
                DriftFinding(
                    exchange,
                    name,
                    "missing",
                    stats[f"_m{i}"],
                    f"absent in {stats[f'_m{i}']} of {stats['_rows']} records",
                )
            )
        if stats[f"_c{i}"]:
            findings.append(
                DriftFinding(
                    exchange,
                    name,
                    "changed",
                    stats[f"_c{i}"],
                    f"JSON {stats[f'_k{i}']} where {'/'.join(kinds)} is declared",
                )
            )
    new_fields = (
        keyed.select(F.explode("keys").alias("field"))
        .where(~F.col("field").isin(*declared))
        .groupBy("field")
        .count()
        .orderBy("field")
        .collect()
    )
    findings += [
        DriftFinding(exchange, row["field"], "new", row["count"], "not in the declared schema") for row in new_fields
    ]
    return findings


def report_drift(spark: SparkSession, raw: DataFrame, tables: TableNames, run_id: str) -> list[DriftFinding]:
    """Detect drift for every exchange, append findings to the drift table and log them. Drift never stops a
    job: a failure to detect or record it is logged and the job goes on."""
    findings: list[DriftFinding] = []
    try:
        for exchange in RAW_SCHEMAS:
            findings += detect_drift(raw, exchange)
        if findings:
            detected_at = datetime.now(UTC).replace(tzinfo=None)
            rows = [(run_id, detected_at, f.exchange, f.field, f.change, f.records, f.detail) for f in findings]
            spark.createDataFrame(rows, SCHEMA_DRIFT).writeTo(tables.schema_drift).append()
    except Exception as error:  # reporting must not crash the pipeline it reports on
        log.warning("schema drift detection failed (the job continues): %s", str(error).splitlines()[0])
        return findings
    for finding in findings:
        log.warning(
            "schema drift: %s field %r %s in %d records (%s)",
            finding.exchange,
            finding.field,
            finding.change,
            finding.records,
            finding.detail,
        )
    return findings
