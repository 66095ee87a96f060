"""The grid bot model of `src/simulate/grid.rs` (its module docs), as a plain Python loop, checked
against botform's results to 1e-6. `tests/it/backtest.rs` writes the candles, the models and
botform's outcomes to a folder and runs this on it.

Usage: python3 benches/grid_python.py DIR
"""
import json
import os
import sys

folder = sys.argv[1]
candles = []
with open(os.path.join(folder, "grid-candles.csv")) as f:
    for line in f:
        t, o, h, l, c = line.split(",")
        candles.append((int(t), float(o), float(h), float(l), float(c)))
models = json.load(open(os.path.join(folder, "grid-models.json")))
expected = json.load(open(os.path.join(folder, "grid-outcomes.json")))


def run(m):
    lines, fee, n = m["lines"], m["fee"], len(m["lines"])

    def coins_at(i):
        return m["per_line"] if m["in_base"] else m["per_line"] / lines[i]

    start = candles[0][1]
    waiting = min(range(n), key=lambda i: (abs(lines[i] - start), i))
    orders = [None] * n  # "buy", or ("sell", coins, completes)
    s = {"quote": 0.0, "coins": 0.0, "investment": 0.0, "grids": 0, "profit": 0.0, "buys": 0,
         "sells": 0, "stopped": False, "drawdown": 0.0}
    balancing = 0.0
    for i in range(n):
        if i < waiting:
            orders[i] = "buy"
            s["investment"] += coins_at(i) * lines[i]
        elif i > waiting:
            balancing += coins_at(i)
            orders[i] = ("sell", coins_at(i), False)
    cost = balancing * start
    s["investment"] += cost + cost * fee
    s["quote"] = s["investment"] - cost - cost * fee
    s["coins"] = balancing

    def moves(a, b):
        if s["stopped"]:
            return
        if b < a:
            for i in reversed(range(n)):
                if a >= lines[i] >= b and orders[i] == "buy":
                    q = coins_at(i)
                    s["quote"] -= q * lines[i] * (1 + fee)
                    s["coins"] += q
                    s["buys"] += 1
                    orders[i] = None
                    if i + 1 < n:
                        orders[i + 1] = ("sell", q, True)
        elif b > a:
            for i in range(n):
                if a <= lines[i] <= b and isinstance(orders[i], tuple):
                    _, q, completes = orders[i]
                    proceeds = q * lines[i]
                    s["quote"] += proceeds - proceeds * fee
                    s["coins"] -= q
                    s["sells"] += 1
                    if completes:
                        bought = q * lines[i - 1]
                        s["grids"] += 1
                        s["profit"] += proceeds - bought - (proceeds + bought) * fee
                    orders[i] = None
                    if i > 0:
                        orders[i - 1] = "buy"
        stop = None
        if m["upper_stop"] and b >= m["upper_stop"][0]:
            stop = m["upper_stop"]
        elif m["lower_stop"] and b <= m["lower_stop"][0]:
            stop = m["lower_stop"]
        if stop:
            price, action = stop
            s["stopped"] = True
            if action in ("stop_bot_and_sell", "stop_bot_and_close_position"):
                proceeds = s["coins"] * price
                s["quote"] += proceeds - proceeds * fee
                s["coins"] = 0.0
            elif action == "stop_bot_and_buy":
                spend = max(s["quote"], 0.0) / (1 + fee)
                s["coins"] += spend / price
                s["quote"] -= spend + spend * fee

    price = start
    for t, o, h, l, c in candles:
        path = m["intrabar"]
        low_first = {"worst": True, "best": False, "low-first": True, "high-first": False}.get(
            path, o - l <= h - o)
        for nxt in (o, l, h, c) if low_first else (o, h, l, c):
            moves(price, nxt)
            price = nxt
            s["drawdown"] = max(s["drawdown"], -(s["quote"] + s["coins"] * nxt - s["investment"]))
    value = s["quote"] + s["coins"] * price - s["investment"]
    return [s["grids"], s["buys"], s["sells"], s["profit"], value, s["drawdown"]]


for k, (m, want) in enumerate(zip(models, expected)):
    got = run(m)
    assert got[:3] == want[:3], (k, got, want)
    assert all(abs(a - b) < 1e-6 for a, b in zip(got[3:], want[3:])), (k, got, want)
print(f"python: {len(models)} grid bots x {len(candles)} candles: every figure matches botform's")
