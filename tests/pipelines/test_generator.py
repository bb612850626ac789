"""The synthetic source: real exchange layouts, realistic ordered prices, every bad-record kind, known outcomes."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.generator import BAD_KINDS, REPLAY_START, UNEXPECTED_FIELD, generate_trades, write_raw_files

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def batch():
    return generate_trades(2_000, seed=11, bad_share=0.05, start=START)


def test_same_seed_same_trades_other_seed_other_trades() -> None:
    first = generate_trades(300, seed=3, start=START)
    assert [r.line for r in first.records] == [r.line for r in generate_trades(300, seed=3, start=START).records]
    assert [r.line for r in first.records] != [r.line for r in generate_trades(300, seed=4, start=START).records]


def test_every_bad_kind_appears_with_its_expected_outcome(batch) -> None:
    kinds = {record.kind for record in batch.records}
    assert kinds == {"ok", *BAD_KINDS}
    for record in batch.records:
        assert record.expected == BAD_KINDS.get(record.kind, "valid")
    bad = [record for record in batch.records if record.kind != "ok"]
    assert len(bad) == 100  # 5 % of 2 000
    assert batch.expected_counts()["valid"] == len(batch.records) - sum(
        1 for r in batch.records if r.expected != "valid"
    )


def test_binance_records_use_the_real_trade_stream_layout(batch) -> None:
    clean = [json.loads(r.line) for r in batch.by_exchange("binance") if r.kind == "ok"]
    assert clean
    for message in clean:
        assert list(message) == ["e", "E", "s", "t", "p", "q", "T", "m"]
        assert message["e"] == "trade" and message["s"].endswith("USDT")
        assert isinstance(message["p"], str) and isinstance(message["q"], str)  # Binance sends decimals as strings
        assert float(message["p"]) > 0 and float(message["q"]) > 0
        assert isinstance(message["T"], int) and message["E"] >= message["T"]  # milliseconds
        assert message["T"] > int(START.timestamp() * 1000) - 1
        assert isinstance(message["m"], bool)


def test_kraken_records_use_the_real_trade_layout(batch) -> None:
    clean = [json.loads(r.line) for r in batch.by_exchange("kraken") if r.kind == "ok"]
    assert clean
    for message in clean:
        assert set(message) == {"symbol", "price", "qty", "side", "ord_type", "timestamp", "trade_id"}
        base, quote = message["symbol"].split("/")
        assert quote == "USD" and base in {"BTC", "ETH", "SOL"}
        assert message["side"] in {"buy", "sell"} and message["ord_type"] in {"market", "limit"}
        assert isinstance(message["timestamp"], float)  # seconds with a fraction
        assert abs(message["timestamp"] - START.timestamp()) < 3600


def _trade_time(exchange: str, message: dict) -> float:
    return message["T"] / 1000 if exchange == "binance" else message["timestamp"]


def test_prices_random_walk_and_time_moves_forward(batch) -> None:
    for exchange in ("binance", "kraken"):
        clean = [json.loads(r.line) for r in batch.by_exchange(exchange) if r.kind == "ok"]
        times = [_trade_time(exchange, message) for message in clean]
        assert times == sorted(times)
        by_symbol: dict[str, list[float]] = {}
        for message in clean:
            symbol = message.get("s") or message["symbol"]
            by_symbol.setdefault(symbol, []).append(float(message.get("p") or message["price"]))
        for prices in by_symbol.values():
            steps = [abs(b / a - 1) for a, b in itertools.pairwise(prices)]
            assert max(steps) < 0.02  # small moves, not independent draws
        btc = by_symbol.get("BTCUSDT") or by_symbol["BTC/USD"]
        assert min(btc) > 50_000 and max(btc) < 90_000


def test_bad_records_are_what_they_claim(batch) -> None:
    seen: dict[str, set[str]] = {"binance": set(), "kraken": set()}
    for record in batch.records:
        if record.kind == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(record.line)
            continue
        message = json.loads(record.line)
        price_key, qty_key, symbol_key = ("p", "q", "s") if record.exchange == "binance" else ("price", "qty", "symbol")
        if record.kind == "missing_field":
            assert price_key not in message
        elif record.kind == "negative_price":
            assert float(message[price_key]) < 0
        elif record.kind == "zero_quantity":
            assert float(message[qty_key]) == 0
        elif record.kind == "empty_symbol":
            assert message[symbol_key] == ""
        elif record.kind == "duplicate":
            assert record.line in seen[record.exchange]  # an exact re-send of an earlier valid trade
        elif record.kind == "new_field":
            assert UNEXPECTED_FIELD in message
        if record.expected == "valid":
            seen[record.exchange].add(record.line)


def test_late_and_out_of_order_events_go_back_in_time(batch) -> None:
    newest = {"binance": 0.0, "kraken": 0.0}
    lags: dict[str, list[float]] = {"late": [], "out_of_order": []}
    for record in batch.records:
        if record.kind == "malformed_json":
            continue
        message = json.loads(record.line)
        if record.kind in ("missing_field", "duplicate"):
            continue
        when = _trade_time(record.exchange, message)
        if record.kind in lags:
            lags[record.kind].append(newest[record.exchange] - when)
        newest[record.exchange] = max(newest[record.exchange], when)
    assert lags["late"] and all(lag > timedelta(hours=1).total_seconds() for lag in lags["late"])
    assert lags["out_of_order"] and all(0 < lag < 3600 for lag in lags["out_of_order"])


def test_the_same_seed_gives_the_same_lines_whatever_the_day() -> None:
    first, second = generate_trades(500, seed=1), generate_trades(500, seed=1)
    assert [r.line for r in first.records] == [r.line for r in second.records]
    assert first.end == second.end > REPLAY_START
    oldest = min(json.loads(r.line)["T"] / 1000 for r in first.by_exchange("binance") if r.kind == "ok")
    newest = max(json.loads(r.line)["T"] / 1000 for r in first.by_exchange("binance") if r.kind == "ok")
    assert REPLAY_START.timestamp() <= oldest < newest <= first.end.timestamp()
    assert [r.line for r in generate_trades(500, seed=2).records] != [r.line for r in first.records]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"bad_share": 1.5}, "bad_share"), ({"n": -1}, "n must be"), ({"start": datetime(2026, 1, 1)}, "timezone")],
)
def test_invalid_arguments_are_named(arguments: dict, message: str) -> None:
    values = {"n": 10, "seed": 1, **arguments}
    with pytest.raises(ValueError, match=message):
        generate_trades(values.pop("n"), **values)


def test_write_raw_files_splits_each_exchange_in_order(batch, tmp_path: Path) -> None:
    paths = write_raw_files(batch, tmp_path / "raw", files_per_exchange=3)
    assert [p.relative_to(tmp_path / "raw").as_posix() for p in paths] == [
        f"{exchange}/trades-{part:04d}.jsonl" for exchange in ("binance", "kraken") for part in range(3)
    ]
    for exchange in ("binance", "kraken"):
        lines = [line for path in paths if path.parent.name == exchange for line in path.read_text().splitlines()]
        assert lines == [record.line for record in batch.by_exchange(exchange)]
    assert not [p for p in (tmp_path / "raw").rglob("*") if p.is_file() and p not in paths]  # no temporaries
