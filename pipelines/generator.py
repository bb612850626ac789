"""Synthetic raw trades in the real Binance and Kraken message layouts, with a known share of bad records.

Every record carries what the pipeline must do with it (`expected`: "valid", or the DLQ reason code), so tests
and the demo can check the outcome record by record."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

MARKETS = {"BTC": 67_000.0, "ETH": 3_500.0, "SOL": 150.0}
BINANCE_QUOTE = "USDT"
KRAKEN_QUOTE = "USD"

#: Bad-record kinds and the outcome each must have. Late, out-of-order and new-field records are valid trades.
BAD_KINDS: dict[str, str] = {
    "missing_field": "MISSING_FIELD:price",
    "negative_price": "NON_POSITIVE_PRICE",
    "zero_quantity": "NON_POSITIVE_QUANTITY",
    "empty_symbol": "EMPTY_SYMBOL",
    "malformed_json": "MALFORMED_JSON",
    "duplicate": "DUPLICATE_TRADE_ID",
    "late": "valid",
    "out_of_order": "valid",
    "new_field": "valid",
}
UNEXPECTED_FIELD = "x_fee_tier"
#: Where a series starts unless told otherwise: a fixed instant, so a seed always gives the same trades (and the
#: same tables, gold included). Replays measure freshness on their own clock (`PipelineSettings.as_of`).
REPLAY_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


@dataclass
class GeneratedRecord:
    exchange: str
    line: str
    kind: str  # "ok" or one of BAD_KINDS
    expected: str  # "valid" or a DLQ reason code
    trade_id: int


@dataclass
class GeneratedBatch:
    records: list[GeneratedRecord] = field(default_factory=list)
    #: The series' clock after its last trade (late and out-of-order trades are older).
    end: datetime = REPLAY_START

    def by_exchange(self, exchange: str) -> list[GeneratedRecord]:
        return [record for record in self.records if record.exchange == exchange]

    def expected_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.expected] = counts.get(record.expected, 0) + 1
        return counts


def generate_trades(
    n: int, *, seed: int, bad_share: float = 0.05, start: datetime | None = None, first_trade_id: int = 1_000_000
) -> GeneratedBatch:
    """`n` trades over both exchanges in time order from `start` (default `REPLAY_START`); `bad_share` of them bad,
    cycling through every kind. The same arguments always give the same lines."""
    if not 0 <= bad_share <= 1:
        raise ValueError(f"bad_share must be between 0 and 1, found {bad_share}")
    if n < 0:
        raise ValueError(f"n must be >= 0, found {n}")
    rng = random.Random(seed)
    clock = start or REPLAY_START
    if clock.tzinfo is None:
        raise ValueError(f"start must be timezone-aware (UTC), found {clock.isoformat()}")
    prices = dict(MARKETS)
    next_id = {"binance": first_trade_id, "kraken": first_trade_id * 3}
    bad_total = round(n * bad_share)
    bad_slots = set(rng.sample(range(1, n), min(bad_total, max(n - 1, 0)))) if n > 1 else set()
    kinds = list(BAD_KINDS)
    batch = GeneratedBatch()
    emitted: dict[str, list[dict[str, object]]] = {"binance": [], "kraken": []}
    bad_index = 0
    for index in range(n):
        exchange = "binance" if rng.random() < 0.6 else "kraken"
        base = rng.choice(list(MARKETS))
        prices[base] *= 1 + rng.gauss(0, 0.0004)  # random walk, ~4 bp per trade
        clock += timedelta(milliseconds=rng.randint(5, 400))
        quantity = round(rng.lognormvariate(-3, 1.2), 6) or 0.000001
        trade_id = next_id[exchange]
        next_id[exchange] += 1
        message = _message(exchange, base, round(prices[base], 2), quantity, clock, trade_id, rng)
        kind = "ok"
        if index in bad_slots:
            kind = kinds[bad_index % len(kinds)]
            bad_index += 1
            if kind == "duplicate" and not emitted[exchange]:
                kind = "ok"
        line, expected = _apply(kind, exchange, message, emitted[exchange], clock, rng)
        if expected == "valid":
            emitted[exchange].append(message)  # only valid trades are re-sent as duplicates
        batch.records.append(GeneratedRecord(exchange, line, kind, expected, _trade_id(line, trade_id)))
    batch.end = clock
    return batch


def _trade_id(line: str, fallback: int) -> int:
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return fallback
    return int(message.get("t", message.get("trade_id", fallback)))


def _message(
    exchange: str, base: str, price: float, quantity: float, when: datetime, trade_id: int, rng: random.Random
) -> dict[str, object]:
    millis = int(when.timestamp() * 1000)
    if exchange == "binance":
        return {
            "e": "trade",
            "E": millis + rng.randint(0, 20),
            "s": f"{base}{BINANCE_QUOTE}",
            "t": trade_id,
            "p": f"{price:.2f}",
            "q": f"{quantity:.6f}",
            "T": millis,
            "m": rng.random() < 0.5,
        }
    return {
        "symbol": f"{base}/{KRAKEN_QUOTE}",
        "price": price,
        "qty": quantity,
        "side": rng.choice(["buy", "sell"]),
        "ord_type": rng.choice(["market", "limit"]),
        "timestamp": round(when.timestamp(), 6),
        "trade_id": trade_id,
    }


def _apply(
    kind: str,
    exchange: str,
    message: dict[str, object],
    earlier: list[dict[str, object]],
    clock: datetime,
    rng: random.Random,
) -> tuple[str, str]:
    expected = BAD_KINDS.get(kind, "valid")
    names = (
        {"price": "p", "quantity": "q", "symbol": "s", "time": "T"}
        if exchange == "binance"
        else {"price": "price", "quantity": "qty", "symbol": "symbol", "time": "timestamp"}
    )
    if kind == "missing_field":
        del message[names["price"]]
    elif kind == "negative_price":
        message[names["price"]] = "-12.50" if exchange == "binance" else -12.5
    elif kind == "zero_quantity":
        message[names["quantity"]] = "0.000000" if exchange == "binance" else 0.0
    elif kind == "empty_symbol":
        message[names["symbol"]] = ""
    elif kind == "duplicate":
        return json.dumps(rng.choice(earlier), separators=(",", ":")), expected
    elif kind == "late":
        _shift(exchange, message, clock - timedelta(hours=2))
    elif kind == "out_of_order":
        _shift(exchange, message, clock - timedelta(seconds=rng.randint(5, 50)))
    elif kind == "new_field":
        message[UNEXPECTED_FIELD] = rng.choice(["vip1", "vip2"])
    line = json.dumps(message, separators=(",", ":"))
    if kind == "malformed_json":
        line = line[: len(line) // 2]
    return line, expected


def _shift(exchange: str, message: dict[str, object], when: datetime) -> None:
    if exchange == "binance":
        message["T"] = int(when.timestamp() * 1000)
    else:
        message["timestamp"] = round(when.timestamp(), 6)


def write_raw_files(
    batch: GeneratedBatch, raw_dir: Path, *, files_per_exchange: int = 2, prefix: str = "trades"
) -> list[Path]:
    """JSON lines under `raw_dir/<exchange>/<prefix>-NNNN.jsonl`, each exchange's records split in order over its
    files (file names sort in time order). Use a new `prefix` per batch to land more data next to the old."""
    if files_per_exchange < 1:
        raise ValueError(f"files_per_exchange must be >= 1, found {files_per_exchange}")
    written = []
    for exchange in ("binance", "kraken"):
        records = batch.by_exchange(exchange)
        if not records:
            continue
        directory = raw_dir / exchange
        directory.mkdir(parents=True, exist_ok=True)
        size = -(-len(records) // files_per_exchange)
        for part, offset in enumerate(range(0, len(records), size)):
            chunk = tuple(records[offset : offset + size])
            path = directory / f"{prefix}-{part:04d}.jsonl"
            # Spark's file sources skip names starting with "."; the rename makes the whole file appear at once.
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text("".join(record.line + "\n" for record in chunk), encoding="utf-8")
            temporary.rename(path)
            written.append(path)
    return written
