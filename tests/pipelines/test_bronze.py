"""Bronze: the payload byte-for-byte, lineage, and an id that is the same every time the record is read."""

from __future__ import annotations

from datetime import datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.schemas import BRONZE, RAW_COLUMNS
from pipelines.transforms.bronze import lines_to_raw, to_bronze

ARRIVED = datetime(2026, 11, 2, 9, 30)
PAYLOADS = [
    '{"e":"trade","s":"BTCUSDT","p":"67000.10"}',
    '  {"symbol": "ETH/USD",\t"price": 3500.5 , "note": "ünïcode ✓"}  ',  # spacing and non-ASCII kept as sent
    '{"truncated": ',
]


def test_to_bronze_keeps_the_payload_byte_for_byte_with_lineage(spark: SparkSession) -> None:
    raw = spark.createDataFrame(
        [("binance", payload, "file:/raw/binance/a.jsonl", i + 1, None) for i, payload in enumerate(PAYLOADS)],
        RAW_COLUMNS,
    )
    bronze = to_bronze(raw, ingest_time=F.lit(ARRIVED).cast("timestamp"))
    assert bronze.schema.fieldNames() == BRONZE.fieldNames()
    expected = spark.createDataFrame(
        [("binance", payload, "file:/raw/binance/a.jsonl", i + 1, ARRIVED) for i, payload in enumerate(PAYLOADS)],
        "exchange string, payload string, origin string, position long, ingest_time timestamp",
    )
    assert_df_equality(bronze.drop("record_id", "payload_bytes"), expected, ignore_row_order=True, ignore_nullable=True)
    assert [row.payload.encode() for row in bronze.collect()] == [payload.encode() for payload in PAYLOADS]


def test_record_id_is_deterministic_and_unique_per_place(spark: SparkSession) -> None:
    rows = [
        ("binance", "{}", "file:/raw/binance/a.jsonl", 1, None),
        ("binance", "{}", "file:/raw/binance/a.jsonl", 2, None),
        ("binance", "{}", "file:/raw/binance/b.jsonl", 1, None),
        ("kraken", "{}", "file:/raw/binance/a.jsonl", 1, None),
    ]
    first = [row.record_id for row in to_bronze(spark.createDataFrame(rows, RAW_COLUMNS)).collect()]
    again = [row.record_id for row in to_bronze(spark.createDataFrame(rows, RAW_COLUMNS)).collect()]
    assert first == again  # same place, same id: a re-read never lands twice
    assert len(set(first)) == 4
    assert all(len(record_id) == 64 for record_id in first)


def _files(spark: SparkSession, files: list[tuple[str, bytes]]) -> DataFrame:
    return spark.createDataFrame([(path, bytearray(content)) for path, content in files], "path string, content binary")


def test_lines_to_raw_numbers_lines_from_one_and_skips_blank_ones(spark: SparkSession) -> None:
    files = _files(
        spark,
        [("file:/raw/kraken/a.jsonl", b'{"a":1}\n\n{"a":2}\n   \n{"a":3}\n'), ("file:/raw/kraken/b.jsonl", b"{}")],
    )
    expected = spark.createDataFrame(
        [
            ("kraken", '{"a":1}', "file:/raw/kraken/a.jsonl", 1),
            ("kraken", '{"a":2}', "file:/raw/kraken/a.jsonl", 3),
            ("kraken", '{"a":3}', "file:/raw/kraken/a.jsonl", 5),
            ("kraken", "{}", "file:/raw/kraken/b.jsonl", 1),
        ],
        "exchange string, payload string, origin string, position long",
    )
    raw = lines_to_raw(files, F.lit("kraken"))
    assert raw.schema.fieldNames() == RAW_COLUMNS.fieldNames()
    assert_df_equality(raw.drop("payload_bytes"), expected, ignore_row_order=True, ignore_nullable=True)
    assert raw.where("payload_bytes IS NOT NULL").count() == 0  # valid UTF-8: the text is the bytes


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        (b'{"a":1}\r\n{"a":2}\r\n\r\n', [(1, '{"a":1}'), (2, '{"a":2}')]),  # CRLF; a blank CRLF line is no record
        (b'{"a":1}\r{"a":2}\r\r{"a":3}', [(1, '{"a":1}'), (2, '{"a":2}'), (4, '{"a":3}')]),  # CR only
        (b'{"a":1}\n\r\n \t\r\n{"a":2}', [(1, '{"a":1}'), (4, '{"a":2}')]),  # mixed, whitespace-only lines
        (b'\xef\xbb\xbf{"a":1}\n{"a":2}', [(1, '{"a":1}'), (2, '{"a":2}')]),  # a byte-order mark is not data
    ],
    ids=["crlf", "cr-only", "mixed", "bom"],
)
def test_line_endings_and_byte_order_marks(spark: SparkSession, content: bytes, lines: list[tuple[int, str]]) -> None:
    raw = lines_to_raw(_files(spark, [("file:/raw/a.jsonl", content)]), F.lit("binance")).collect()
    assert [(row.position, row.payload) for row in raw] == lines


def test_bytes_the_text_cannot_hold_are_kept_exactly(spark: SparkSession) -> None:
    content = b'\xef\xbb\xbf{"s":"BTC"}\n{"s":"\xff\xfeX"}\n{"s":"\xe2\x9c\x93"}\n'
    raw = lines_to_raw(_files(spark, [("file:/raw/a.jsonl", content)]), F.lit("binance")).collect()
    kept = {row.position: (row.payload, None if row.payload_bytes is None else bytes(row.payload_bytes)) for row in raw}
    assert kept == {
        1: ('{"s":"BTC"}', b'\xef\xbb\xbf{"s":"BTC"}'),  # the mark is stripped from the text, kept in the bytes
        2: ('{"s":"\ufffd\ufffdX"}', b'{"s":"\xff\xfeX"}'),  # invalid UTF-8: the text shows U+FFFD
        3: ('{"s":"\u2713"}', None),  # valid UTF-8 needs no copy
    }
