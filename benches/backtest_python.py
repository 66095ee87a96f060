"""The backtest model of botform's README, as a straightforward Python loop, on the candles and
bots `cargo bench --bench backtest` wrote to target/ (run that first). Prints the time for 20 bots
over 105,120 candles and checks every bot's profit against botform's to 1e-6.

Usage: python3 benches/backtest_python.py
"""
import json
import os
import time

target = os.path.join(os.path.dirname(__file__), "..", "target")
candles = []
with open(os.path.join(target, "backtest-candles.csv")) as f:
    for line in f:
        t, o, h, l, c = line.split(",")
        candles.append((int(t), float(o), float(h), float(l), float(c)))
bots = json.load(open(os.path.join(target, "backtest-bots.json")))
expected = [float(x) for x in open(os.path.join(target, "backtest-profits.txt")).read().split()]
INTERVAL = candles[1][0] - candles[0][0]


def run(m):
    short, fee, tp, sl = m["short"], m["fee"], m["take_profit"], m["stop_loss"]
    sign = 1.0 if short else -1.0
    rungs = m["safety"]
    lo, hi, limit, timeout = m["min_price"], m["max_price"], m["deals_limit"], m["close_timeout_ms"]
    profit, deal, next_start = 0.0, None, None
    delayed_until, opened, disabled = None, 0, False
    for t, o, h, l, c in candles:
        if deal is None and not disabled:
            if (delayed_until is None and (next_start is None or t >= next_start)
                    and (lo is None or o >= lo) and (hi is None or o <= hi)):
                delayed_until = t + m["start_delay_ms"]
            if delayed_until is not None and t >= delayed_until:
                delayed_until = None
                base = m["base"]
                coins, quote = (base["amount"], base["amount"] * o) if base["in_base"] else (base["amount"] / o, base["amount"])
                deal = {"entry": o, "opened": t, "filled": 0, "base": coins, "quote": quote, "fees": quote * fee,
                        "prices": [o * (1.0 + sign * r["deviation"]) for r in rungs]}
                opened += 1
                disabled = limit is not None and opened >= limit
        if deal is None:
            continue
        path = m["intrabar"]
        if path == "worst":
            low_first = not short
        elif path == "best":
            low_first = short
        elif path == "low-first":
            low_first = True
        elif path == "high-first":
            low_first = False
        else:  # tradingview: the extreme nearer the open first
            low_first = o - l <= h - o
        prices = deal["prices"]
        exit_price, stopped = None, False
        for p in (o, l, h, c) if low_first else (o, h, l, c):
            while deal["filled"] < len(prices) and (prices[deal["filled"]] <= p if short else prices[deal["filled"]] >= p):
                r, q = rungs[deal["filled"]], prices[deal["filled"]]
                coins, quote = (r["amount"], r["amount"] * q) if r["in_base"] else (r["amount"] / q, r["amount"])
                deal["base"] += coins
                deal["quote"] += quote
                deal["fees"] += quote * fee
                deal["filled"] += 1
            if sl is not None:
                sl_price = deal["entry"] * (1.0 + sign * sl)
                if (p >= sl_price) if short else (p <= sl_price):
                    # a market sale: through a gap, at the open
                    exit_price, stopped = (max(sl_price, o) if short else min(sl_price, o)), True
                    break
            average = deal["quote"] / deal["base"]
            if short:
                tp_price = average * (1.0 - tp) * (1.0 - fee) / (1.0 + fee)
            else:
                tp_price = average * (1.0 + tp) * (1.0 + fee) / (1.0 - fee)
            if (p <= tp_price) if short else (p >= tp_price):
                exit_price = tp_price
                break
        end = t + INTERVAL
        if exit_price is None and timeout is not None and end - deal["opened"] >= timeout:
            exit_price = c
        if exit_price is not None:
            out = deal["base"] * exit_price
            gross = deal["quote"] - out if short else out - deal["quote"]
            profit += gross - deal["fees"] - out * fee
            disabled = disabled or (stopped and m["stop_disables"])
            next_start = end + m["cooldown_ms"]
            deal = None
    return profit


start = time.perf_counter()
profits = [run(m) for m in bots]
elapsed = time.perf_counter() - start
for i, (p, e) in enumerate(zip(profits, expected)):
    assert abs(p - e) < 1e-6, (i, p, e)
print(f"python: {len(bots)} bots x {len(candles)} candles in {elapsed * 1000:.0f} ms; every profit matches botform's")
