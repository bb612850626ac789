"""Gold: OHLCV, VWAP and per-exchange trade counts per symbol and minute/hour, from hand-built silver rows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.schemas import AMOUNT, GOLD, PRICE
from pipelines.transforms.gold import affected_windows, ohlcv

D = Decimal


def _silver(spark: SparkSession, rows: list[tuple[str, str, str, str, str, datetime]]) -> DataFrame:
    """(exchange, trade_id, symbol, price, quantity, trade_time) -> the silver columns gold reads."""
    frame = spark.createDataFrame(
        rows, "exchange string, trade_id string, symbol string, price string, quantity string, trade_time timestamp"
    )
    return frame.select(
        "exchange",
        "trade_id",
        "symbol",
        F.col("price").cast(PRICE).alias("price"),
        F.col("quantity").cast(PRICE).alias("quantity"),
        (F.col("price").cast(PRICE) * F.col("quantity").cast(PRICE)).cast(AMOUNT).alias("value_usd"),
        "trade_time",
    )


TRADES = [
    ("binance", "1", "BTC-USD", "100", "1", datetime(2026, 11, 2, 9, 0, 5)),
    ("kraken", "1", "BTC-USD", "110", "3", datetime(2026, 11, 2, 9, 0, 30)),
    ("binance", "2", "BTC-USD", "90", "1", datetime(2026, 11, 2, 9, 0, 45)),
    ("binance", "3", "BTC-USD", "105", "2", datetime(2026, 11, 2, 9, 0, 59, 999999)),
    ("kraken", "2", "BTC-USD", "120", "1", datetime(2026, 11, 2, 9, 1, 0)),
    ("binance", "9", "ETH-USD", "10", "4", datetime(2026, 11, 2, 9, 0, 10)),
]


def _bars(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    schema = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in GOLD.fields)
    return spark.createDataFrame(rows, schema)


def test_minute_bars(spark: SparkSession) -> None:
    expected = _bars(
        spark,
        [
            # open = first trade's price, close = last's; VWAP = (100 + 330 + 90 + 210) / 7
            (
                "BTC-USD",
                datetime(2026, 11, 2, 9, 0),
                D(100),
                D(110),
                D(90),
                D(105),
                D(7),
                D(730),
                D("104.2857142857"),
                4,
                3,
                1,
            ),
            ("BTC-USD", datetime(2026, 11, 2, 9, 1), D(120), D(120), D(120), D(120), D(1), D(120), D(120), 1, 0, 1),
            ("ETH-USD", datetime(2026, 11, 2, 9, 0), D(10), D(10), D(10), D(10), D(4), D(40), D(10), 1, 1, 0),
        ],
    )
    assert_df_equality(ohlcv(_silver(spark, TRADES), "minute"), expected, ignore_row_order=True, ignore_nullable=True)


def test_hour_bars_and_a_deterministic_open_when_trades_share_a_time(spark: SparkSession) -> None:
    same_time = datetime(2026, 11, 2, 9, 0, 5)
    trades = [*TRADES, ("kraken", "0", "BTC-USD", "95", "1", same_time)]  # ties with binance 1: binance < kraken
    expected = _bars(
        spark,
        [
            ("BTC-USD", datetime(2026, 11, 2, 9), D(100), D(120), D(90), D(120), D(9), D(945), D(105), 6, 3, 3),
            ("ETH-USD", datetime(2026, 11, 2, 9), D(10), D(10), D(10), D(10), D(4), D(40), D(10), 1, 1, 0),
        ],
    )
    bars = ohlcv(_silver(spark, trades), "hour")
    assert bars.schema.fieldNames() == GOLD.fieldNames()
    assert_df_equality(bars, expected, ignore_row_order=True, ignore_nullable=True)


def test_affected_windows_are_the_bars_a_change_touches(spark: SparkSession) -> None:
    windows = affected_windows(_silver(spark, TRADES[1:3] + TRADES[4:5]), "minute").collect()
    assert sorted((row.symbol, row.window_start) for row in windows) == [
        ("BTC-USD", datetime(2026, 11, 2, 9, 0)),
        ("BTC-USD", datetime(2026, 11, 2, 9, 1)),
    ]


def test_a_bar_beyond_the_exact_vwap_width_still_gets_every_column(spark: SparkSession) -> None:
    """Two 1e21 USD trades: the bar's value exceeds decimal(28,10), so the VWAP divides at full width."""
    minute = datetime(2026, 11, 2, 9, 0)
    trades = [("binance", "1", "BTC-USD", "1000000000", "1000000000000", minute)] * 2
    (bar,) = ohlcv(_silver(spark, [trades[0], ("kraken", "2", *trades[1][2:])]), "minute").collect()
    assert (bar.volume, bar.value_usd, bar.vwap) == (D(2 * 10**12), D(2 * 10**21), D(10**9))
