"""The metric contract between the pipelines (which expose these from the driver with prometheus-client) and
the monitoring layer (whose dashboards and alerts query them). Pure constants: importable by the Pulumi
program without Spark. Change a name here and both sides follow."""

from __future__ import annotations

from typing import Final

#: Port of the driver's prometheus-client HTTP endpoint (path `/metrics`), scraped by the driver PodMonitor.
PIPELINE_METRICS_PORT: Final = 9108
PIPELINE_METRICS_PATH: Final = "/metrics"

# Counter {job, layer, source}: records written per medallion layer and source exchange.
RECORDS_PROCESSED: Final = "spark_pipeline_records_processed_total"
# Counter {job, layer, source}: records read from the source per micro-batch or batch run (input side).
RECORDS_INPUT: Final = "spark_pipeline_records_input_total"
# Counter {job, layer, reason}: records sent to the dead-letter table, by reason code.
DLQ_RECORDS: Final = "spark_pipeline_dlq_records_total"
# Counter {job, source}: duplicate records dropped by dedup on (exchange, trade id).
DUPLICATE_RECORDS: Final = "spark_pipeline_duplicate_records_total"
# Histogram {job, layer}: wall time of one batch run or one streaming micro-batch, seconds.
BATCH_DURATION: Final = "spark_pipeline_batch_duration_seconds"
# Histogram {job}: event time -> committed to the table, seconds.
END_TO_END_LATENCY: Final = "spark_pipeline_end_to_end_latency_seconds"
# Gauge {job, source}: unix time of the newest record event time committed.
LAST_RECORD_TIMESTAMP: Final = "spark_pipeline_last_record_timestamp_seconds"
# Gauge {job}: unix time of the last successful batch commit (stall detection).
LAST_BATCH_COMMIT_TIMESTAMP: Final = "spark_pipeline_last_batch_commit_timestamp_seconds"
# Counter {job, layer, check, severity}: data-quality checks that failed.
DQ_CHECK_FAILURES: Final = "spark_pipeline_dq_check_failures_total"
# Gauge {job, table}: seconds between now and the newest event time in a table (freshness).
DATA_FRESHNESS: Final = "spark_pipeline_data_freshness_seconds"
# Counter {job}: streaming checkpoint/commit failures.
CHECKPOINT_WRITE_FAILURES: Final = "spark_pipeline_checkpoint_write_failures_total"
# Gauge {job}: seconds since the last checkpoint commit of a streaming query (checkpoint lag).
CHECKPOINT_AGE: Final = "spark_pipeline_checkpoint_age_seconds"

ALL_METRIC_NAMES: Final = (
    RECORDS_PROCESSED,
    RECORDS_INPUT,
    DLQ_RECORDS,
    DUPLICATE_RECORDS,
    BATCH_DURATION,
    END_TO_END_LATENCY,
    LAST_RECORD_TIMESTAMP,
    LAST_BATCH_COMMIT_TIMESTAMP,
    DQ_CHECK_FAILURES,
    DATA_FRESHNESS,
    CHECKPOINT_WRITE_FAILURES,
    CHECKPOINT_AGE,
)
