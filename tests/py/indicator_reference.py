"""Reference values for botform's start-condition indicators, computed by TA-Lib.

Writes (or with --check, compares against) tests/fixtures/indicators/candles.csv and
reference.json. The candles come from a seeded generator documented here, so the fixture carries
no exchange data: a random walk of 600 hourly candles from 2024-01-01T00:00:00Z, each step drawn
from a 64-bit linear congruential generator (Knuth's MMIX constants), so anyone can regenerate them
byte for byte.

    python3 tests/py/indicator_reference.py          # write the fixture
    python3 tests/py/indicator_reference.py --check  # exit 1 if TA-Lib now says otherwise

botform's own implementations (src/simulate/indicators.rs) are checked against reference.json by
a unit test; `--check` (run by the integration test `backtest::indicators_match_ta_lib`) proves
reference.json is what TA-Lib computes, not a copy of our own output.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import talib

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "indicators"
COUNT = 600
START_MS = 1704067200000  # 2024-01-01T00:00:00Z
HOUR_MS = 3600 * 1000


def candles():
    state = 20261126
    mask = (1 << 64) - 1

    def uniform():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        return (state >> 11) / float(1 << 53)

    rows = []
    price = 100.0
    for i in range(COUNT):
        open_ = price
        # A drift that turns every 150 candles, so trends and reversals both occur.
        drift = 0.004 if (i // 150) % 2 == 0 else -0.004
        close = open_ * (1.0 + drift * (uniform() - 0.45) * 2 + (uniform() - 0.5) * 0.03)
        high = max(open_, close) * (1.0 + uniform() * 0.01)
        low = min(open_, close) * (1.0 - uniform() * 0.01)
        volume = 1000.0 + uniform() * 9000.0
        # Eight significant decimals, as an exchange would print them.
        rows.append([START_MS + i * HOUR_MS] + [float(f"{x:.8f}") for x in (open_, high, low, close, volume)])
        price = rows[-1][4]
    return rows


def series(values):
    return [None if math.isnan(v) else float(v) for v in values]


def reference(rows):
    a = np.array(rows, dtype=float)
    o, h, l, c, v = a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5]
    out = {}
    for period in (7, 14):
        out[f"rsi_{period}"] = series(talib.RSI(c, timeperiod=period))
    for period in (9, 20):
        out[f"sma_{period}"] = series(talib.SMA(c, timeperiod=period))
        out[f"ema_{period}"] = series(talib.EMA(c, timeperiod=period))
    for period, dev in ((20, 2.0), (14, 1.5)):
        upper, _, lower = talib.BBANDS(c, timeperiod=period, nbdevup=dev, nbdevdn=dev, matype=0)
        out[f"bb_percent_{period}_{dev}"] = series((c - lower) / (upper - lower) * 100.0)
    macd, signal, _ = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    out["macd_12_26_9"] = series(macd)
    out["macd_signal_12_26_9"] = series(signal)
    k, d = talib.STOCH(h, l, c, fastk_period=14, slowk_period=3, slowk_matype=0, slowd_period=3, slowd_matype=0)
    out["stoch_k_14_3_3"] = series(k)
    out["stoch_d_14_3_3"] = series(d)
    out["adx_14"] = series(talib.ADX(h, l, c, timeperiod=14))
    out["cci_20"] = series(talib.CCI(h, l, c, timeperiod=20))
    out["mfi_14"] = series(talib.MFI(h, l, c, v, timeperiod=14))
    out["ult_7_14_28"] = series(talib.ULTOSC(h, l, c, timeperiod1=7, timeperiod2=14, timeperiod3=28))
    out["sar_0.02_0.2"] = series(talib.SAR(h, l, acceleration=0.02, maximum=0.2))
    return {"talib": talib.__version__, "values": out}


def render(rows):
    csv = "open_time,open,high,low,close,volume\n" + "".join(
        f"{r[0]},{r[1]!r},{r[2]!r},{r[3]!r},{r[4]!r},{r[5]!r}\n" for r in rows
    )
    return csv, json.dumps(reference(rows), indent=0, sort_keys=True) + "\n"


def close_enough(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def main():
    rows = candles()
    csv, ref = render(rows)
    if "--check" in sys.argv:
        if (FIXTURE / "candles.csv").read_text() != csv:
            print("candles.csv differs from what the generator makes")
            return 1
        stored = json.loads((FIXTURE / "reference.json").read_text())["values"]
        fresh = json.loads(ref)["values"]
        bad = [
            f"{name}[{i}]: stored {s} vs TA-Lib {f}"
            for name in fresh
            for i, (s, f) in enumerate(zip(stored.get(name, []), fresh[name]))
            if not close_enough(s, f)
        ]
        bad += [f"{name}: missing" for name in fresh if len(stored.get(name, [])) != len(fresh[name])]
        if bad:
            print("\n".join(bad[:20]))
            return 1
        print(f"reference.json matches TA-Lib {talib.__version__} ({len(fresh)} series of {COUNT})")
        return 0
    FIXTURE.mkdir(parents=True, exist_ok=True)
    (FIXTURE / "candles.csv").write_text(csv)
    (FIXTURE / "reference.json").write_text(ref)
    print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
