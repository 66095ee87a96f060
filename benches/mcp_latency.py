"""Median latency and answer size of each `botform mcp` tool against the built-in sandbox, for
configs of 5, 100 and 1,000 bots (the live account seeded to match, through the sandbox's control
endpoint, so every plan is a no-change plan of that size).

Usage: cargo build --release && python3 benches/mcp_latency.py target/release/botform [SIZES]
Not run in CI. Prints one line per tool and size: median and max of 5 calls in milliseconds, and
the characters of the answer (the documented budget is 20,000).
"""
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from mcp import Client, StdioServerParameters

binary = sys.argv[1]
sizes = [int(s) for s in sys.argv[2].split(",")] if len(sys.argv) > 2 else [5, 100, 1000]
PAIRS = ["USDT_BTC", "USDT_ETH", "USDT_SOL", "USDT_BNB", "USDT_XRP"]
SHARED = ('[settings]\nmode = "real"\n\n[accounts.main]\nname = "Binance Spot"\n\n'
          '[templates.t]\naccount = "main"\nstart = [{ strategy = "nonstop" }]\n'
          'base_order_volume = 10\nsafety_order_volume = 20\nmax_safety_orders = 5\nactive_safety_orders_count = 2\n'
          'safety_order_step_percentage = 1.2\nmartingale_volume_coefficient = 1.5\nmartingale_step_coefficient = 1.2\n'
          'take_profit = 1.5\ntake_profit_type = "total"\n\n[blacklist]\npairs = []\n')


def text_size(result):
    return sum(len(c.text) for c in result.content if getattr(c, "type", "") == "text")


async def measure(n):
    root = tempfile.mkdtemp()
    state = os.path.join(tempfile.mkdtemp(), "sandbox.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREECOMMAS_")}
    env.update(BOTFORM_SANDBOX_STATE=state, BOTFORM_STATE_DIR=tempfile.mkdtemp(), RUST_LOG="warn")
    with open(os.path.join(root, "shared.toml"), "w") as f:
        f.write(SHARED)
    with open(os.path.join(root, "bots.toml"), "w") as f:
        for i in range(n):
            f.write(f'[[bots]]\nname = "bot {i}"\ntemplate = "t"\npairs = ["{PAIRS[i % 5]}"]\n\n')
    web = subprocess.Popen([binary, "sandbox", "serve", "--listen", "127.0.0.1:0", "--state", state],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    url = web.stdout.readline().strip()
    try:
        async with Client(StdioServerParameters(command=binary, args=["mcp", "--root", root, "--allow-apply"], env=env)) as c:
            accounts = (await c.call_tool("list_accounts", {})).structured_content["accounts"]
            account_id = next(a["id"] for a in accounts if a["name"] == "Binance Spot")
            seed = {"mode": "real", "bots": [{
                "account_id": account_id, "name": f"bot {i}", "pairs": json.dumps([PAIRS[i % 5]]),
                "strategy_list": json.dumps([{"strategy": "nonstop", "options": {}}]),
                "base_order_volume": "10", "safety_order_volume": "20", "max_safety_orders": 5,
                "active_safety_orders_count": 2, "safety_order_step_percentage": "1.2",
                "martingale_volume_coefficient": "1.5", "martingale_step_coefficient": "1.2",
                "take_profit": "1.5", "take_profit_type": "total", "strategy": "long",
                "base_order_volume_type": "quote_currency", "safety_order_volume_type": "quote_currency"}
                for i in range(n)]}
            req = urllib.request.Request(f"{url}/__sandbox/bots", data=json.dumps(seed).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            urllib.request.urlopen(req).read()
            bot_id = next(b["id"] for b in (await c.call_tool("list_bots", {"name_contains": "bot 1"})).structured_content["bots"])
            for status in ["completed", "stop_loss_finished"]:
                deal = {"bot_id": bot_id, "mode": "real", "status": status, "final_profit": "1.5", "usd_final_profit": "1.5"}
                urllib.request.urlopen(urllib.request.Request(f"{url}/__sandbox/deals", data=json.dumps(deal).encode(),
                                                              headers={"Content-Type": "application/json"}, method="POST")).read()
            planned = (await c.call_tool("plan", {})).structured_content
            calls = [
                ("validate", {}),
                ("validate", {"bots": ["bot 1", "bot 2"]}),
                ("plan", {}),
                ("show_plan", {"plan_id": planned["plan_id"]}),
                ("describe_config", {}),
                ("describe_config", {"field": "take_profit"}),
                ("list_accounts", {}),
                ("list_strategies", {}),
                ("market_pairs", {"account": "main"}),
                ("currency_rates", {"account": "main", "pair": "USDT_BTC"}),
                ("list_bots", {}),
                ("explain_bot", {"bot": "bot 1"}),
                ("deals", {"bot": "bot 1"}),
                ("bot_performance", {"bot": "bot 1"}),
                ("set_fields", {"bots": ["bot 1"], "fields": {"take_profit": "1.5"}}),
                ("blacklist_add", {"pairs": ["USDT_LUNA"]}),
                ("import", {}),
            ]
            for name, args in calls:
                times = []
                chars = 0
                for _ in range(5):
                    start = time.perf_counter()
                    result = await c.call_tool(name, args)
                    times.append((time.perf_counter() - start) * 1000)
                    chars = text_size(result)
                    assert not result.is_error, (name, result)
                label = name if name not in ("validate", "describe_config") or not args else f"{name}*"
                print(f"{n:5} bots  {label:17} median {statistics.median(times):8.1f} ms  max {max(times):8.1f} ms  {chars:6} chars", flush=True)
            planned = (await c.call_tool("plan", {})).structured_content
            start = time.perf_counter()
            await c.call_tool("apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})
            print(f"{n:5} bots  {'apply (blacklist)':17} once   {(time.perf_counter() - start) * 1000:8.1f} ms", flush=True)
    finally:
        web.terminate()
        web.wait()


async def main():
    for n in sizes:
        await measure(n)


asyncio.run(main())
