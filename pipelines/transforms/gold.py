"""Gold: per symbol and minute/hour, OHLCV, VWAP and trade counts per exchange."""

from __future__ import annotations

from typing import Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.schemas import AMOUNT, GOLD, PRICE

Grain = Literal["minute", "hour"]
GOLD_KEYS = ("symbol", "window_start")


def ohlcv(silver: DataFrame, grain: Grain) -> DataFrame:
    # Open/close by (trade_time, exchange, trade_id): a deterministic tie-break when trades share a timestamp.
    ordered = F.struct("trade_time", "exchange", "trade_id", "price")
    bars = (
        silver.withColumn("window_start", F.date_trunc(grain, "trade_time"))
        .groupBy("symbol", "window_start")
        .agg(
            F.min(ordered).getField("price").alias("open"),
            F.max("price").alias("high"),
            F.min("price").alias("low"),
            F.max(ordered).getField("price").alias("close"),
            F.sum("quantity").alias("volume"),
            F.sum("value_usd").alias("value_usd"),
            F.count(F.lit(1)).alias("trade_count"),
            F.count(F.when(F.col("exchange") == "binance", 1)).alias("binance_trades"),
            F.count(F.when(F.col("exchange") == "kraken", 1)).alias("kraken_trades"),
        )
    )
    return bars.select(
        "symbol",
        "window_start",
        F.col("open").cast(PRICE).alias("open"),
        F.col("high").cast(PRICE).alias("high"),
        F.col("low").cast(PRICE).alias("low"),
        F.col("close").cast(PRICE).alias("close"),
        F.col("volume").cast(AMOUNT).alias("volume"),
        F.col("value_usd").cast(AMOUNT).alias("value_usd"),
        _vwap(F.col("value_usd"), F.col("volume")).alias("vwap"),
        "trade_count",
        "binance_trades",
        "kraken_trades",
    ).select([F.col(f.name) for f in GOLD.fields])


def _vwap(value_usd: Column, volume: Column) -> Column:
    """value / volume at PRICE's scale. A decimal(28,10) numerator keeps the quotient at scale 10 (Spark cuts a
    wider one's to 6), so it is used whenever the bar's value fits it; a bigger bar (silver's bounds allow about
    a million maximal trades before that) divides at full width instead of overflowing to null."""
    exact = value_usd.cast("decimal(28,10)") / volume.cast(AMOUNT)
    wide = value_usd.cast(AMOUNT) / volume.cast(AMOUNT)
    return F.when(value_usd < 10**18, exact.cast(PRICE)).otherwise(wide.cast(PRICE))


def affected_windows(changed_silver: DataFrame, grain: Grain) -> DataFrame:
    """The (symbol, window_start) pairs a set of changed silver rows touches: only those bars are recomputed."""
    return changed_silver.select("symbol", F.date_trunc(grain, "trade_time").alias("window_start")).distinct()
