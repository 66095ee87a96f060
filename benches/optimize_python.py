"""The optimize bench's comparison: the same bot, candles and model as `cargo bench --bench
optimize` (run that first: it writes target/optimize-bench/), searched in Python with the
backtest's Python reference (`run_bot` of benches/backtest_python.py, the model that agrees with
botform's to 1e-6): a plain random-search loop, then optuna's TPE sampler driving the same
function. One evaluation is one candidate over the whole year, as botform's figure. Prints the
evaluations a second of each and botform's ratio to them.

Usage: python3 benches/optimize_python.py [EVALUATIONS]   (optuna: pip install optuna)
"""
import ast
import bisect
import copy
import json
import math
import os
import random
import sys
import time

here = os.path.dirname(__file__)
target = os.path.join(here, "..", "target", "optimize-bench")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 12

# run_bot from the backtest's reference, without running that script's own checks.
source = open(os.path.join(here, "backtest_python.py")).read()
tree = ast.parse(source)
namespace = {"bisect": bisect, "math": math}
for node in tree.body:
    if isinstance(node, ast.FunctionDef) and node.name == "run_bot":
        exec(compile(ast.Module(body=[node], type_ignores=[]), "backtest_python.py", "exec"), namespace)
run_bot = namespace["run_bot"]

candles = []
with open(os.path.join(target, "candles.csv")) as f:
    for line in f:
        t, o, h, l, c = line.split(",")
        candles.append((int(t), float(o), float(h), float(l), float(c)))
namespace["INTERVAL"] = candles[1][0] - candles[0][0]  # the reference's module-level constant
base_model = json.load(open(os.path.join(target, "model.json")))
botform_rate = float(open(os.path.join(target, "botform-evaluations-per-second.txt")).read())


def model_of(step, volume_x, step_x, orders, take_profit):
    """3Commas' martingale ladder (as botform's model::dca): the k-th order's step grows by
    step_x, its volume by volume_x."""
    m = copy.deepcopy(base_model)
    rungs, deviation, size, gap = [], 0.0, m["safety"][0]["amount"], step
    for _ in range(orders):
        deviation += gap
        rungs.append({"deviation": deviation / 100, "amount": size, "in_base": False})
        gap *= step_x
        size *= volume_x
    m["safety"] = rungs
    m["take_profits"] = [{"share": 1.0, "profit": take_profit / 100}]
    return m


def evaluate(step, volume_x, step_x, orders, take_profit):
    return run_bot(model_of(step, volume_x, step_x, orders, take_profit), [candles], float("inf"))[0]


# The ladder built here is botform's: the config's own settings give its compiled model's profit.
same = evaluate(1.2, 1.5, 1.2, 5, 1.5)
assert abs(same - run_bot(base_model, [candles], float("inf"))[0]) < 1e-9, same

rng = random.Random(1)
started = time.perf_counter()
best = -math.inf
for _ in range(N):
    best = max(best, evaluate(rng.uniform(0.5, 3), rng.uniform(1, 2), rng.uniform(1, 1.5), rng.randint(2, 10), rng.uniform(0.5, 3)))
plain = N / (time.perf_counter() - started)
print(f"plain Python random search: {plain:.2f} evaluations a second ({N} evaluations, a year of 5-minute candles each)")

try:
    import optuna
except ImportError:
    optuna = None
    print("optuna is not installed (pip install optuna): its figure is left out")
if optuna:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
    started = time.perf_counter()
    study.optimize(lambda t: evaluate(t.suggest_float("step", 0.5, 3), t.suggest_float("volume_x", 1, 2),
                                      t.suggest_float("step_x", 1, 1.5), t.suggest_int("orders", 2, 10),
                                      t.suggest_float("take_profit", 0.5, 3)), n_trials=N)
    tpe = N / (time.perf_counter() - started)
    print(f"optuna (TPE) driving the Python model: {tpe:.2f} evaluations a second")
print(f"botform: {botform_rate:.0f} evaluations a second on one thread (edit, validate, simulate): "
      f"{botform_rate / plain:.0f} x the plain loop" + (f", {botform_rate / tpe:.0f} x optuna" if optuna else ""))
