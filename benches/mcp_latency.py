"""How long each `botform mcp` tool takes against the sandbox for a 100-bot config.

Usage: cargo build --release && python3 benches/mcp_latency.py target/release/botform
Not run in CI. Prints the median of 5 calls per tool, in milliseconds.
"""
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

from mcp import Client, StdioServerParameters

binary = sys.argv[1]
root = tempfile.mkdtemp()
text = ['[accounts.main]\nname = "Binance Spot"\n\n[templates.t]\naccount = "main"\nstart = [{ strategy = "nonstop" }]\n'
        'base_order_volume = 10\nsafety_order_volume = 20\nmax_safety_orders = 5\nactive_safety_orders_count = 2\n'
        'safety_order_step_percentage = 1.2\nmartingale_volume_coefficient = 1.5\nmartingale_step_coefficient = 1.2\n'
        'take_profit = 1.5\ntake_profit_type = "total"\n']
pairs = ["USDT_BTC", "USDT_ETH", "USDT_SOL", "USDT_BNB", "USDT_XRP"]
for i in range(100):
    text.append(f'\n[[bots]]\nname = "bot {i}"\ntemplate = "t"\npairs = ["{pairs[i % 5]}"]\n')
with open(os.path.join(root, "bots.toml"), "w") as f:
    f.write("".join(text))
env = {k: v for k, v in os.environ.items() if not k.startswith("THREECOMMAS_")}
# Create the 100 bots first (the sandbox paces like 3Commas: ~70 s for 100 creates).
subprocess.run([binary, "apply", root, "--auto-approve"], env=env, check=True, capture_output=True)


async def main():
    async with Client(StdioServerParameters(command=binary, args=["mcp", "--root", root, "--allow-apply"], env=env)) as c:
        calls = [
            ("validate", {}),
            ("plan", {}),
            ("describe_config", {"field": "take_profit"}),
            ("list_accounts", {}),
            ("list_strategies", {}),
            ("market_pairs", {"account": "Binance Spot"}),
            ("bot_performance", {"bot": "bot 1"}),
            ("import", {}),
        ]
        await c.call_tool("list_accounts", {})  # open the sandbox once
        for name, args in calls:
            times = []
            for _ in range(5):
                start = time.perf_counter()
                result = await c.call_tool(name, args)
                times.append((time.perf_counter() - start) * 1000)
                assert not result.is_error, (name, result)
            print(f"{name:16} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms")
        planned = (await c.call_tool("plan", {})).structured_content
        start = time.perf_counter()
        await c.call_tool("apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})
        print(f"{'apply (no-op)':16} {(time.perf_counter() - start) * 1000:7.1f} ms")


asyncio.run(main())
