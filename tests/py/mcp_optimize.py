"""Drive `botform mcp`'s `optimize` tool with the official Python MCP SDK, as an assistant would.

Usage: python3 mcp_optimize.py BOTFORM_BINARY ROOT_DIR MODE
  MODE: auto (2026-07-28) | legacy (2025-11-25)
Checks: progress notifications (done of total), the answer within 20,000 characters with at
most 5 rows, a set_fields call that set_fields takes as proposed, and a cancelled call that
stops searching (the server's CPU time stops growing). Exits non-zero on the first failed check.
"""
import asyncio
import json
import os
import sys
import time

import anyio
from mcp import Client, StdioServerParameters

binary, root, mode = sys.argv[1:4]
BUDGET = 20_000
PRICES = "paths=1,vol=80,days=120,seed=3"


def check(condition, message):
    if not condition:
        print(f"FAIL ({mode}): {message}", file=sys.stderr)
        sys.exit(1)


def client():
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREECOMMAS_")}
    env["RUST_LOG"] = "warn"
    env["THREECOMMAS_TARGET"] = "sandbox"
    env["BOTFORM_MCP_HEARTBEAT_MS"] = "20"
    params = StdioServerParameters(command=binary, args=["mcp", "--root", root, "--tools", "config,optimize"], env=env)
    return Client(params, mode=mode)


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def server_cpu_seconds():
    """The CPU time of the `botform mcp` serving ROOT_DIR (from /proc)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if b"mcp" in argv and root.encode() in argv:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    check(False, "the server process was not found")


async def main():
    async with client() as c:
        names = {t.name for t in (await c.list_tools()).tools}
        check("optimize" in names, f"the optimize set serves the tool: {sorted(names)}")
        progress = []

        async def on_progress(done, total, message):
            progress.append((done, total, message))

        result = await c.call_tool("optimize", {
            "bot": "BTC conservative", "synthetic": PRICES, "fee": "0.1", "trials": 162,
            "vary": ["take_profit=0.8..3", "max_safety_orders=3..8", "safety_order_step_percentage=0.8..3"],
        }, progress_callback=on_progress)
        check(not result.is_error, f"optimize: {text_of(result)}")
        size = len(text_of(result))
        check(size <= BUDGET, f"the answer is {size} characters")
        answer = result.structured_content
        report = answer["report"]
        check(1 <= len(report["top"]) <= 5, f"top 5: {len(report['top'])}")
        check(all(len(r["out_of_sample_by_fold"]) == 4 for r in report["top"]), "out-of-sample figures by fold")
        check(progress and progress[-1][1] == 162 and "candidates" in progress[-1][2], f"progress: {progress[-3:]}")
        before = open(os.path.join(root, "btc-conservative.toml")).read()
        check("take_profit" not in before, "optimize never writes")
        proposal = answer["set_fields"]
        check(proposal and proposal["tool"] == "set_fields", f"a set_fields call to propose: {answer['next']}")
        edit = await c.call_tool("set_fields", proposal["arguments"])
        check(not edit.is_error and edit.structured_content["written"], f"set_fields takes it: {text_of(edit)}")
        after = open(os.path.join(root, "btc-conservative.toml")).read()
        for field in proposal["arguments"]["fields"]:
            check(field in after, f"{field} written")
        valid = await c.call_tool("validate", {})
        check(valid.structured_content["valid"], f"valid after the edit: {text_of(valid)}")

        # A call the client cancels stops searching.
        started = time.monotonic()
        with anyio.move_on_after(2.0):
            await c.call_tool("optimize", {"bot": "BTC conservative", "synthetic": "paths=1,vol=80,days=365,seed=4",
                                           "trials": 200000})
        check(time.monotonic() - started < 10, "the cancelled call returned")
        # The search stops within a candidate (a fraction of a second even in a debug build):
        # the server goes quiet, its CPU time growing by less than 0.1 s in half a second, long
        # before 30 s (a search left running would keep both cores busy for minutes).
        quiet, spent = False, None
        for _ in range(60):
            cpu = server_cpu_seconds()
            await asyncio.sleep(0.5)
            spent = server_cpu_seconds() - cpu
            if spent < 0.1:
                quiet = True
                break
        check(quiet, f"the server kept searching after the cancel: {spent:.2f} s of CPU in the last 0.5 s")
        again = await c.call_tool("validate", {})
        check(not again.is_error, "the server still answers")
    print(f"optimize over MCP ({mode}): answer {size} characters, {len(progress)} progress notifications")


asyncio.run(main())
