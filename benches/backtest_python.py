"""The backtest model of botform's README, as a straightforward Python loop, on the candles and
bots `cargo bench --bench backtest` wrote to target/ (run that first). Prints the time for 20 bots
over 105,120 candles and checks every bot's profit against botform's to 1e-6; then the same bots
on three pairs run together (`max_active_deals` across them), every pair's profit likewise.

Usage: python3 benches/backtest_python.py
"""
import bisect
import json
import math
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


def run_bot(m, series, cap, limits=None, detail=None, gates=None):
    """The bot over its pairs together (candles at the same times): at most `cap` deals open at
    once, the deal count and a disabling stop shared; `limits` gives each pair's (price step,
    lot step) or None, `detail` each pair's finer candles (candles, their times, their
    interval) or None, and `gates` each pair's candle indices at whose open the safety-order
    conditions hold (botform's indicators, checked against TA-Lib on their own), or None.
    Returns each pair's realized profit."""
    short, fee, sl = m["short"], m["fee"], m["stop_loss"]
    steps, trailing, tsl, sl_timeout = m["take_profits"], m["trailing"], m["trailing_stop"], m["stop_timeout_ms"]
    sign = 1.0 if short else -1.0
    rungs = m["safety"]
    lo, hi, limit, timeout = m["min_price"], m["max_price"], m["deals_limit"], m["close_timeout_ms"]
    n = len(series)
    profit, deals, next_start, delayed = [0.0] * n, [None] * n, [None] * n, [None] * n
    bot = {"active": 0, "opened": 0, "disabled": False}

    def favourable(a, b):  # a at or past b in the deal's favour
        return a <= b if short else a >= b

    steps_of = limits or [None] * n
    on_signal = [set(g) if g is not None else None for g in (gates or [None] * n)]
    assert m["safety_on_signal"] == any(g is not None for g in on_signal)

    def limit_price(i, price, buy):  # on the pair's price grid, in the deal's disfavour
        step = steps_of[i] and steps_of[i][0]
        if not step:
            return price
        return math.floor(price / step + 1e-9) * step if buy else math.ceil(price / step - 1e-9) * step

    def lots(i, coins):  # whole lots, rounded down
        step = steps_of[i] and steps_of[i][1]
        return math.floor(coins / step + 1e-9) * step if step else coins

    def fill(i, rung, price):  # an order's coins and quote
        if not (steps_of[i] and steps_of[i][1]):
            return (rung["amount"], rung["amount"] * price) if rung["in_base"] else (rung["amount"] / price, rung["amount"])
        coins = lots(i, rung["amount"] if rung["in_base"] else rung["amount"] / price)
        return coins, coins * price

    def step_price(i, d, k):
        average = d["quote"] / d["base"]
        p = steps[k]["profit"]
        if short:
            return limit_price(i, average * (1.0 - p) * (1.0 - fee) / (1.0 + fee), True)
        return limit_price(i, average * (1.0 + p) * (1.0 + fee) / (1.0 - fee), False)

    def stop_price(d):
        return (d["best"] if tsl else d["entry"]) * (1.0 + sign * sl)

    def open_phase(i, t, o):
        if deals[i] is not None or bot["disabled"]:
            return
        room = bot["active"] < cap
        if (delayed[i] is None and room and (next_start[i] is None or t >= next_start[i])
                and (lo is None or o >= lo) and (hi is None or o <= hi)):
            delayed[i] = t + m["start_delay_ms"]
        if delayed[i] is not None and t >= delayed[i]:
            delayed[i] = None
            if room:
                base = m["base"]
                coins, quote = fill(i, base, o)
                deals[i] = {"entry": o, "opened": t, "filled": 0, "base": coins, "quote": quote, "fees": quote * fee,
                            "prices": [limit_price(i, o * (1.0 + sign * r["deviation"]), not short) for r in rungs],
                            "steps": 0, "steps_base": 0.0, "steps_quote": 0.0, "peak": None, "best": o, "since": None}
                bot["active"] += 1
                bot["opened"] += 1
                bot["disabled"] = limit is not None and bot["opened"] >= limit

    def walk_candle(i, deal, t, o, h, l, c, interval):
        """One candle (`interval` long) through the deal: where it exits, and whether by its stop."""
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
        for k, p in enumerate((o, l, h, c) if low_first else (o, h, l, c)):
            gap = k == 0
            # with safety-order conditions the orders are not placed: they fill on the signal
            while not m["safety_on_signal"] and deal["filled"] < len(prices) and favourable(prices[deal["filled"]], p):
                r, q = rungs[deal["filled"]], prices[deal["filled"]]
                coins, quote = fill(i, r, q)
                deal["base"] += coins
                deal["quote"] += quote
                deal["fees"] += quote * fee
                deal["filled"] += 1
            if tsl and favourable(p, deal["best"]):
                deal["best"] = p
            if sl is not None and favourable(stop_price(deal), p):
                if sl_timeout is None:
                    # a market sale: through a gap, at the open
                    exit_price, stopped = (p if gap else stop_price(deal)), True
                    break
                if deal["since"] is None:
                    deal["since"] = t
            last = len(steps) - 1
            while deal["steps"] < last and favourable(p, step_price(i, deal, deal["steps"])):
                at = step_price(i, deal, deal["steps"])
                coins = min(lots(i, steps[deal["steps"]]["share"] * deal["base"]), deal["base"] - deal["steps_base"])
                deal["steps_base"] += coins
                deal["steps_quote"] += coins * at
                deal["fees"] += coins * at * fee
                deal["steps"] += 1
            take = step_price(i, deal, last)
            if trailing is None:
                if favourable(p, take):
                    exit_price = take
                    break
                continue
            if deal["peak"] is None and favourable(p, take):
                deal["peak"] = p
            if deal["peak"] is not None:
                if favourable(p, deal["peak"]):
                    deal["peak"] = p
                level = deal["peak"] * (1.0 + trailing) if short else deal["peak"] * (1.0 - trailing)
                if favourable(level, p):
                    exit_price = p if gap else level
                    break
        end = t + interval
        if exit_price is None and deal["since"] is not None:
            past = c >= stop_price(deal) if short else c <= stop_price(deal)
            if not past:
                deal["since"] = None
            elif end - deal["since"] >= sl_timeout:
                exit_price, stopped = c, True
        return exit_price, stopped

    def finer(i, t):  # the finer candles that cover the candle at t whole, or None
        if not detail or not detail[i]:
            return None
        fine, times, fine_interval = detail[i]
        a, b = bisect.bisect_left(times, t), bisect.bisect_left(times, t + INTERVAL)
        return (fine[a:b], fine_interval) if (b - a) * fine_interval == INTERVAL else None

    def walk_phase(i, n, t, o, h, l, c):
        deal = deals[i]
        if deal is None:
            return
        if on_signal[i] is not None and n in on_signal[i]:
            # every order the open has reached fills at the open, at market
            while deal["filled"] < len(deal["prices"]) and favourable(deal["prices"][deal["filled"]], o):
                coins, quote = fill(i, rungs[deal["filled"]], o)
                deal["base"] += coins
                deal["quote"] += quote
                deal["fees"] += quote * fee
                deal["filled"] += 1
        inside = finer(i, t)
        if inside is None:
            exit_price, stopped = walk_candle(i, deal, t, o, h, l, c, INTERVAL)
        else:
            exit_price, stopped = None, False
            fine, fine_interval = inside
            for ft, fo, fh, fl, fc in fine:
                exit_price, stopped = walk_candle(i, deal, ft, fo, fh, fl, fc, fine_interval)
                if exit_price is not None:
                    break
        end = t + INTERVAL
        if exit_price is None and timeout is not None and end - deal["opened"] >= timeout:
            exit_price = c
        if exit_price is not None:
            held = deal["base"] - deal["steps_base"]
            out = held * exit_price
            if short:
                gross = deal["quote"] - deal["steps_quote"] - out
            else:
                gross = deal["steps_quote"] + out - deal["quote"]
            profit[i] += gross - deal["fees"] - out * fee
            bot["disabled"] = bot["disabled"] or (stopped and m["stop_disables"])
            next_start[i] = end + m["cooldown_ms"]
            deals[i] = None
            bot["active"] -= 1

    for n, step in enumerate(zip(*series)):
        assert len({row[0] for row in step}) == 1, "the pairs' candles share their times"
        for i, (t, o, h, l, c) in enumerate(step):
            open_phase(i, t, o)
        for i, (t, o, h, l, c) in enumerate(step):
            walk_phase(i, n, t, o, h, l, c)
    return profit


def run(m, gate):
    return run_bot(m, [candles], float("inf"), gates=[gate])[0]


gates = json.load(open(os.path.join(target, "backtest-safety-gates.json")))
start = time.perf_counter()
profits = [run(m, g) for m, g in zip(bots, gates)]
elapsed = time.perf_counter() - start
for i, (p, e) in enumerate(zip(profits, expected)):
    assert abs(p - e) < 1e-6, (i, p, e)
print(f"python: {len(bots)} bots x {len(candles)} candles in {elapsed * 1000:.0f} ms; every profit matches botform's")

# The bots on three pairs together: the cap across pairs, the shared deal count and stop.
series = []
for k in range(3):
    with open(os.path.join(target, f"backtest-multi-candles-{k}.csv")) as f:
        series.append([tuple([int(r[0])] + [float(x) for x in r[1:]]) for r in (line.split(",") for line in f)])
multi = json.load(open(os.path.join(target, "backtest-multi-bots.json")))
multi_limits = json.load(open(os.path.join(target, "backtest-multi-limits.json")))
with open(os.path.join(target, "backtest-multi-detail-1.csv")) as f:
    fine = [tuple([int(r[0])] + [float(x) for x in r[1:]]) for r in (line.split(",") for line in f)]
multi_detail = [None, (fine, [c[0] for c in fine], fine[1][0] - fine[0][0]), None]
expected_multi = [[float(x) for x in line.split()] for line in open(os.path.join(target, "backtest-multi-profits.txt"))]
multi_gates = json.load(open(os.path.join(target, "backtest-multi-safety-gates.json")))
for i, (m, e, g) in enumerate(zip(multi, expected_multi, multi_gates)):
    got = run_bot(m, series, m["max_active_deals"], multi_limits, multi_detail, g)
    assert all(abs(a - b) < 1e-6 for a, b in zip(got, e)), (i, got, e)
print(f"python: {len(multi)} bots on 3 pairs at once, at most 1 to 3 deals across them, two pairs on exchange steps, one walked on 1-minute candles: every pair's profit matches botform's")
