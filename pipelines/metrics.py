"""The driver's Prometheus metrics, named by `contracts.metrics` (the contract the monitoring layer's alerts
query). Each `PipelineMetrics` owns its registry, so tests and parallel runs never share counters.

No pyspark import: results are read by attribute, so this module also serves the entrypoint before Spark starts."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from contracts import metrics as names

#: Seconds: a micro-batch on a laptop takes ~1-10 s, a batch job on the cluster up to tens of minutes.
BATCH_DURATION_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
#: Seconds from event time to commit: streaming aims at < 1 min; hours mean a stalled or replaying source.
LATENCY_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 6 * 3600, 24 * 3600)


class SilverOutcomeLike(Protocol):
    inserted: int
    updated: int
    rejected_by_reason: dict[str, int]


class PipelineMetrics:
    """Every metric of one pipeline process, labelled with its job name."""

    def __init__(self, job: str, registry: CollectorRegistry | None = None) -> None:
        self.job = job
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records_processed = Counter(
            names.RECORDS_PROCESSED, "Records written per medallion layer and source.", ["job", "layer", "source"],
            registry=r,
        )
        self.records_input = Counter(
            names.RECORDS_INPUT, "Records read from the source per batch or micro-batch.", ["job", "layer", "source"],
            registry=r,
        )
        self.dlq_records = Counter(
            names.DLQ_RECORDS, "Records sent to the dead-letter table, by reason.", ["job", "layer", "reason"],
            registry=r,
        )
        self.duplicate_records = Counter(
            names.DUPLICATE_RECORDS, "Duplicate records dropped by dedup on (exchange, trade id).", ["job", "source"],
            registry=r,
        )
        self.batch_duration = Histogram(
            names.BATCH_DURATION, "Wall time of one batch run or streaming micro-batch.", ["job", "layer"],
            buckets=BATCH_DURATION_BUCKETS, registry=r,
        )
        self.end_to_end_latency = Histogram(
            names.END_TO_END_LATENCY, "Event time to table commit (one observation per micro-batch, batch mean).",
            ["job"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.last_record_timestamp = Gauge(
            names.LAST_RECORD_TIMESTAMP, "Unix time of the newest committed record's event time.", ["job", "source"],
            registry=r,
        )
        self.last_batch_commit = Gauge(
            names.LAST_BATCH_COMMIT_TIMESTAMP, "Unix time of the last successful batch commit.", ["job"], registry=r
        )
        self.dq_failures = Counter(
            names.DQ_CHECK_FAILURES, "Data-quality checks that failed.", ["job", "layer", "check", "severity"],
            registry=r,
        )
        self.data_freshness = Gauge(
            names.DATA_FRESHNESS, "Seconds between now and the newest event time in a table.", ["job", "table"],
            registry=r,
        )
        self.checkpoint_failures = Counter(
            names.CHECKPOINT_WRITE_FAILURES, "Streaming checkpoint/commit failures.", ["job"], registry=r
        )
        self.checkpoint_age = Gauge(
            names.CHECKPOINT_AGE, "Seconds since the streaming query's last checkpoint commit.", ["job"], registry=r
        )

    # --- recording -----------------------------------------------------------------------------------------
    def input(self, layer: str, counts_by_source: Mapping[str, int]) -> None:
        for source, count in counts_by_source.items():
            self.records_input.labels(self.job, layer, source).inc(count)

    def processed(self, layer: str, counts_by_source: Mapping[str, int]) -> None:
        for source, count in counts_by_source.items():
            self.records_processed.labels(self.job, layer, source).inc(count)

    def dead_lettered(self, layer: str, counts_by_reason: Mapping[str, int]) -> None:
        for reason, count in counts_by_reason.items():
            self.dlq_records.labels(self.job, layer, reason).inc(count)

    def duplicates(self, counts_by_source: Mapping[str, int]) -> None:
        for source, count in counts_by_source.items():
            self.duplicate_records.labels(self.job, source).inc(count)

    @contextmanager
    def timed(self, layer: str) -> Iterator[None]:
        """Observe the block's wall time as one batch of `layer`, also when it fails."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.batch_duration.labels(self.job, layer).observe(time.perf_counter() - started)

    def latency(self, seconds: float) -> None:
        self.end_to_end_latency.labels(self.job).observe(max(seconds, 0.0))

    def newest_record(self, source: str, event_time_unix: float) -> None:
        gauge = self.last_record_timestamp.labels(self.job, source)
        # A late batch must not move the gauge backwards: it says how far the newest committed data reaches.
        gauge.set(max(event_time_unix, _value(gauge)))

    def committed(self, at_unix: float | None = None) -> None:
        self.last_batch_commit.labels(self.job).set(at_unix if at_unix is not None else time.time())
        self.checkpoint_age.labels(self.job).set(0)

    def checkpoint_lag(self, seconds: float) -> None:
        self.checkpoint_age.labels(self.job).set(max(seconds, 0.0))

    def checkpoint_failure(self) -> None:
        self.checkpoint_failures.labels(self.job).inc()

    def dq_failure(self, layer: str, check: str, severity: str) -> None:
        self.dq_failures.labels(self.job, layer, check, severity).inc()

    def quality_report(self, report: Any) -> None:
        """A `pipelines.quality.QualityReport`: one failure count per failed check."""
        for failure in report.failures:
            self.dq_failure(failure.layer, failure.check, failure.severity)

    def freshness(self, table: str, seconds: float) -> None:
        self.data_freshness.labels(self.job, table).set(seconds)

    def silver_outcome(self, outcome: SilverOutcomeLike, by_source: Mapping[str, int] | None = None) -> None:
        """A silver run: rows written (per source when known), DLQ rows by reason, duplicates."""
        self.processed("silver", by_source or {"all": outcome.inserted + outcome.updated})
        self.dead_lettered("silver", outcome.rejected_by_reason)

    def job_result(self, result: Any) -> None:
        """Whatever a job entry point returned, as metrics: the batch medallion's result, a silver outcome (or its
        dict), `{"bronze_new": n}`, `{"minute": n, "hour": n}`, or a quality report. Else only the commit."""
        silver = getattr(result, "silver", None)
        if silver is not None and hasattr(result, "bronze_new"):
            self.processed("bronze", {"all": result.bronze_new})
            self.silver_outcome(silver)
            self.processed("gold", {"all": sum(result.gold_bars_changed.values())})
            for layer, seconds in getattr(result, "seconds", {}).items():
                self.batch_duration.labels(self.job, layer).observe(seconds)
        elif hasattr(result, "rejected_by_reason"):
            self.silver_outcome(result)
        elif isinstance(result, Mapping) and "dlq_by_reason" in result:  # a silver run's as_dict()
            self.processed("silver", {"all": int(result["inserted"]) + int(result["updated"])})
            self.dead_lettered("silver", result["dlq_by_reason"])
        elif isinstance(result, Mapping) and "bronze_new" in result:
            self.processed("bronze", {"all": int(result["bronze_new"])})
        elif isinstance(result, Mapping) and {"minute", "hour"} <= set(result):
            self.processed("gold", {"all": int(result["minute"]) + int(result["hour"])})
        elif hasattr(result, "failures") and hasattr(result, "results"):
            self.quality_report(result)
        self.committed()

    # --- exposing ------------------------------------------------------------------------------------------
    def exposition(self) -> str:
        """The registry in Prometheus text format, exactly what a scrape of `/metrics` returns."""
        return generate_latest(self.registry).decode("utf-8")

    def sample(self, name: str, **labels: str) -> float | None:
        """The current value of one sample (e.g. `..._total`, `..._count`), or None when it was never set."""
        return self.registry.get_sample_value(name, {"job": self.job, **labels})


_installed: PipelineMetrics | None = None


def install(metrics: PipelineMetrics) -> PipelineMetrics:
    """Make `metrics` the process's metrics: what the entrypoint serves and job code records into."""
    global _installed
    _installed = metrics
    return metrics


def current_metrics(job: str) -> PipelineMetrics:
    """The installed metrics, or fresh ones for `job` (a run outside the entrypoint: tests, the demo)."""
    return _installed if _installed is not None else PipelineMetrics(job)


def _value(gauge: Gauge) -> float:
    return gauge._value.get()  # prometheus-client has no public getter on a labelled child


def start_metrics_server(metrics: PipelineMetrics, port: int = names.PIPELINE_METRICS_PORT) -> None:
    """Serve `metrics` on `:port/metrics` from a daemon thread (the driver PodMonitor scrapes it)."""
    start_http_server(port, registry=metrics.registry)
