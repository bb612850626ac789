"""The metrics registry: contract names, labels, and the HTTP endpoint the driver PodMonitor scrapes."""

from __future__ import annotations

import socket
import urllib.request

from contracts import metrics as names
from pipelines.metrics import PipelineMetrics, start_metrics_server


def test_every_contract_metric_is_exposed_under_its_name() -> None:
    metrics = PipelineMetrics("trades-streaming")
    metrics.input("bronze", {"binance": 3})
    metrics.processed("silver", {"kraken": 2})
    metrics.dead_lettered("silver", {"NON_POSITIVE_PRICE": 1})
    metrics.duplicates({"binance": 1})
    with metrics.timed("streaming"):
        pass
    metrics.latency(4.2)
    metrics.newest_record("binance", 1_700_000_000)
    metrics.committed(1_700_000_100)
    metrics.dq_failure("silver", "not_null", "error")
    metrics.freshness("lake.silver.trades", 12)
    metrics.checkpoint_failure()
    metrics.checkpoint_lag(7)
    text = metrics.exposition()
    for name in names.ALL_METRIC_NAMES:
        assert f"# HELP {name} " in text, name
    dlq_line = 'spark_pipeline_dlq_records_total{job="trades-streaming",layer="silver",reason="NON_POSITIVE_PRICE"} 1.0'
    assert dlq_line in text
    assert metrics.sample(names.END_TO_END_LATENCY + "_bucket", le="5.0") == 1
    assert metrics.sample(names.CHECKPOINT_AGE) == 7


def test_gauges_and_counters_behave_as_alerts_expect() -> None:
    metrics = PipelineMetrics("trades-streaming")
    metrics.newest_record("kraken", 200)
    metrics.newest_record("kraken", 100)  # a late batch does not move the newest record back
    assert metrics.sample(names.LAST_RECORD_TIMESTAMP, source="kraken") == 200
    metrics.checkpoint_lag(30)
    metrics.committed(500)
    assert metrics.sample(names.CHECKPOINT_AGE) == 0
    assert metrics.sample(names.LAST_BATCH_COMMIT_TIMESTAMP) == 500
    metrics.latency(-3)  # clocks disagree: never a negative observation
    assert metrics.sample(names.END_TO_END_LATENCY + "_sum") == 0
    assert metrics.sample(names.RECORDS_PROCESSED, layer="gold", source="all") is None
    other = PipelineMetrics("trades-streaming")
    assert other.registry is not metrics.registry  # each instance owns its registry


def test_job_results_become_metrics() -> None:
    metrics = PipelineMetrics("silver-refine")
    metrics.job_result({"processed": 5, "inserted": 3, "updated": 1, "dlq_by_reason": {"EMPTY_SYMBOL": 1}})
    assert metrics.sample(names.RECORDS_PROCESSED, layer="silver", source="all") == 4
    assert metrics.sample(names.DLQ_RECORDS, layer="silver", reason="EMPTY_SYMBOL") == 1
    metrics.job_result({"minute": 4, "hour": 2})
    assert metrics.sample(names.RECORDS_PROCESSED, layer="gold", source="all") == 6
    assert metrics.sample(names.LAST_BATCH_COMMIT_TIMESTAMP) is not None


def test_metrics_server_serves_the_registry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics = PipelineMetrics("bronze-ingest")
    metrics.processed("bronze", {"binance": 9})
    start_metrics_server(metrics, port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{names.PIPELINE_METRICS_PATH}", timeout=5) as response:
        body = response.read().decode()
    assert 'spark_pipeline_records_processed_total{job="bronze-ingest",layer="bronze",source="binance"} 9.0' in body
