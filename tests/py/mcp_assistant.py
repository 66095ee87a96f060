"""Play an assistant's five tasks through `botform mcp` with the official Python MCP SDK, then
check that every answer stays within the documented budget at 1,000 bots.

Usage: python3 mcp_assistant.py BOTFORM_BINARY ROOT_DIR SCALE_DIR MODE ELICIT
  ROOT_DIR:  a copy of examples/bots (the five tasks run on it)
  SCALE_DIR: an empty directory (the 1,000-bot config is written there)
  MODE:      auto (2026-07-28) | legacy (2025-11-25)
  ELICIT:    accept | none
The built-in sandbox's state is BOTFORM_SANDBOX_STATE; a `botform sandbox serve` on the same state
plays the 3Commas web app (deals that happened, a pair blacklisted by hand).
Prints `size TOOL BOTS CHARS` lines (for the note) and exits non-zero on the first failed check.
"""
import asyncio
import collections
import json
import os
import subprocess
import sys
import time
import urllib.request

from mcp import Client, StdioServerParameters, types

binary, root, scale_root, mode, elicit = sys.argv[1:6]
BUDGET = 20_000
# The longest a call may go without a word from the server (a progress notification, a log
# message or its answer): clients give up on a silent request near 60 s.
SILENCE_S = 10
asked = []
# Per task: the calls an assistant made and the characters it read (printed for the note).
task_name = "setup"
spent = collections.OrderedDict()


def task(name):
    global task_name
    task_name = name


def check(condition, message):
    if not condition:
        print(f"FAIL ({mode}, {elicit}): {message}", file=sys.stderr)
        sys.exit(1)


async def accept(context, params):
    asked.append(params.message)
    return types.ElicitResult(action="accept", content={"confirm": True})


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("THREECOMMAS_")}
    e["RUST_LOG"] = "warn"
    e["THREECOMMAS_TARGET"] = "sandbox"  # under CI=true the sandbox is never a silent default
    e.update(extra)
    return e


logs = []


async def on_log(params):
    logs.append(params.data)


def client(directory, *flags, logging=False, **extra_env):
    kwargs = {"mode": mode}
    if elicit == "accept":
        kwargs["elicitation_callback"] = accept
    if logging:
        kwargs["logging_callback"] = on_log
        kwargs["log_level"] = "info"
    params = StdioServerParameters(command=binary, args=["mcp", "--root", directory, "--tools", "all", *flags],
                                   env=env(**extra_env))
    return Client(params, **kwargs)


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def size(result):
    """Characters the assistant reads: the text content (the structured copy is the same JSON)."""
    return max(len(text_of(result)), len(json.dumps(result.structured_content or {})))


async def call(c, name, args, bots=None, ok=True, progress=None):
    heard = [time.monotonic()]

    async def on_progress(done, total, message):
        heard.append(time.monotonic())
        if progress:
            await progress(done, total, message)

    result = await c.call_tool(name, args, progress_callback=on_progress)
    heard.append(time.monotonic())
    silence = max(b - a for a, b in zip(heard, heard[1:]))
    check(silence <= SILENCE_S, f"{name} was silent for {silence:.1f} s (at most {SILENCE_S} s)")
    n = size(result)
    calls, chars = spent.get(task_name, (0, 0))
    spent[task_name] = (calls + 1, chars + n)
    check(n <= BUDGET, f"{name} answered {n} characters (budget {BUDGET}): {text_of(result)[:300]}")
    if bots is not None:
        print(f"size {name} {bots} {n}")
    if ok:
        check(not result.is_error, f"{name} {args}: {text_of(result)[:2000]}")
    return result


def data(result):
    check(result.structured_content is not None, f"structured content expected: {text_of(result)[:500]}")
    return result.structured_content


class WebApp:
    """The 3Commas web app, played by the sandbox's loopback control endpoints on the same state."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [binary, "sandbox", "serve", "--listen", "127.0.0.1:0", "--state", os.environ["BOTFORM_SANDBOX_STATE"]],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env(), text=True)
        self.url = self.proc.stdout.readline().strip()
        check(self.url.startswith("http://"), f"sandbox url: {self.url!r}")

    def post(self, path, body):
        req = urllib.request.Request(f"{self.url}/__sandbox/{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def close(self):
        self.proc.terminate()
        self.proc.wait()


async def plan_and_apply(c, expect_changes=True):
    planned = data(await call(c, "plan", {}))
    check(planned["has_changes"] == expect_changes, f"plan: {planned['human'][:1500]}")
    if not expect_changes:
        return planned, None
    return planned, await apply_planned(c, planned)


def config_texts(directory):
    return {n: open(os.path.join(directory, n)).read() for n in sorted(os.listdir(directory))
            if n.endswith((".toml", ".yaml", ".yml"))}


async def apply_planned(c, planned):
    applied = await call(c, "apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})
    answer = data(applied)
    while not answer["finished"]:
        answer = data(await call(c, "apply_status", {"apply_id": answer["apply_id"]}))
    check(answer["failed"] == 0, f"apply outcomes: {answer}")
    again = data(await call(c, "plan", {}))
    check(again["has_changes"] is False, f"after apply the plan is empty: {again['human'][:1500]}")
    return answer


async def apply_confirmed(c, planned, asked_about, recheck):
    """Apply a plan (answers come at once and apply_status follows it); the person was asked
    about it (when the client can ask), and a plan of `recheck` finds nothing left."""
    answer = data(await call(c, "apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]}))
    while not answer["finished"]:
        answer = data(await call(c, "apply_status", {"apply_id": answer["apply_id"]}))
    check(answer["failed"] == 0 and answer["succeeded"] > 0, f"apply outcomes: {answer}")
    if elicit == "accept":
        check(asked_about in asked[-1], f"the confirmation asked about {asked_about!r}: {asked[-1]}")
    again = data(await call(c, "plan", recheck))
    check(again["has_changes"] is False, f"after apply, {recheck}: {again['human'][:1500]}")
    return answer


async def five_tasks(web):
    task("6 bots: setup")
    async with client(root, "--allow-apply", "--allow-delete") as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        for name in ["set_fields", "add_bot", "remove_bot", "blacklist_add", "blacklist_remove", "list_bots",
                     "explain_bot", "deals", "currency_rates", "show_plan", "apply_status"]:
            check(name in tools, f"tool {name}: {sorted(tools)}")
        check(all(t.title for t in tools.values()), f"every tool has a title: {[n for n, t in tools.items() if not t.title]}")
        check(tools["set_fields"].annotations.read_only_hint is False and tools["set_fields"].annotations.open_world_hint is False,
              "edits change files, not the account")
        instructions = c.instructions or ""
        check(root in instructions and "plan_id" in instructions, f"instructions name the root and the workflow: {instructions}")
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        check({"botform://plans/{plan_id}", "botform://bots/{bot}"} <= templates, f"templates: {templates}")
        done = await c.complete(types.PromptReference(type="ref/prompt", name="design_bot"), {"name": "account", "value": "ma"})
        check(done.completion.values == ["main"], f"account completion: {done.completion.values}")
        done = await c.complete(types.ResourceTemplateReference(type="ref/resource", uri="botform://bots/{bot}"), {"name": "bot", "value": "BTC"})
        check(done.completion.values == ["BTC conservative"], f"bot completion: {done.completion.values}")
        done = await c.complete(types.PromptReference(type="ref/prompt", name="design_bot"), {"name": "strategy", "value": "rsi"})
        check("rsi" in done.completion.values and "rsi-dip" in done.completion.values, f"strategy completion: {done.completion.values}")

        described = data(await call(c, "describe_config", {}, bots=5))
        check({s["name"] for s in described["sections"]} == {"bots", "templates", "settings", "accounts", "strategies",
                                                              "blacklist", "grid_bots", "grid_templates"},
              f"sections: {[s['name'] for s in described['sections']]}")
        grid = data(await call(c, "describe_config", {"section": "grid_bots"}))
        grid_fields = {f["name"]: f for f in grid["sections"][0]["fields"]}
        check(grid_fields["order_currency_type"]["required"].startswith("yes") and grid_fields["lower_price"]["description"],
              f"grid bot fields, described on request: {grid_fields.get('order_currency_type')}")
        check("$ref" not in json.dumps(described), "references resolved")
        bot_fields = {f["name"]: f for f in described["sections"][0]["fields"]}
        check(bot_fields["take_profit_type"]["required"].startswith("yes"), "take_profit_type is required")
        check("[[bots]]" in described["skeleton"], "a skeleton")

        # Validating one file resolves accounts, templates and strategy sets from the whole root.
        one = data(await call(c, "validate", {"paths": ["btc-conservative.toml"]}))
        check(one["valid"] and one["bots_total"] == 2, f"one file validates against the root: {one}")

        await plan_and_apply(c)

        task("6 bots: add a bot")
        # Task 1: "add an ETH bot with an RSI start and at most 500 USDT".
        added = data(await call(c, "add_bot", {"name": "ETH RSI", "template": "conservative", "account": "main",
                                               "pairs": ["usdt_eth"], "fields": {"start": "rsi-dip", "base_order_volume": "0.5"}}))
        check(added["written"] and added["valid"] and added["files"] == ["btc-conservative.toml"], f"add_bot: {added}")
        check('+name = "ETH RSI"' in added["diff"] and "+base_order_volume = 0.5" in added["diff"], added["diff"])
        numbers = data(await call(c, "validate", {"bots": ["eth rsi"]}))["bots"][0]["numbers"]
        check(float(numbers["capital_all_deals"]) <= 500, f"within 500 USDT: {numbers}")
        # The exchange's minimum order is checked at plan, before anyone approves (before: at apply).
        too_small = await call(c, "plan", {}, ok=False)
        check(too_small.is_error and "minimum order of 5" in text_of(too_small) and "btc-conservative.toml" in text_of(too_small),
              f"minimum order: {text_of(too_small)}")
        rates = data(await call(c, "currency_rates", {"pair": "USDT_ETH", "account": "main"}))
        check(rates["min_total"] == "5.0", f"rates: {rates}")
        fixed = data(await call(c, "set_fields", {"bots": ["ETH RSI"], "fields": {"base_order_volume": rates["min_total"]}}))
        check(fixed["written"] and "-base_order_volume = 0.5" in fixed["diff"] and "+base_order_volume = 5.0" in fixed["diff"], fixed["diff"])
        planned, _ = await plan_and_apply(c)
        check('bot "ETH RSI" on main' in planned["human"] and planned["summary"]["add"] == 1, planned["human"])
        check(any(line["account"] == "main" for line in planned["capital"]), f"capital: {planned['capital']}")
        if elicit == "accept":
            check("ETH RSI" in asked[-1] and "USDT per deal" in asked[-1], f"confirmation: {asked[-1]}")

        # Refused edits write nothing.
        bad = data(await call(c, "set_fields", {"bots": ["ETH RSI"], "fields": {"max_safety_orders": "five"}}))
        check(not bad["written"] and bad["error_count"] > 0, f"an invalid edit is refused: {bad}")
        with open(os.path.join(root, "btc-conservative.toml")) as f:
            check("five" not in f.read(), "nothing was written")

        task("6 bots: edit every bot")
        # Task 2: "lower take profit on every bot by 0.2".
        before_task_2 = config_texts(root)
        # Every bot at once would take the take-profit-steps bot below zero: refused, nothing written.
        everyone = data(await call(c, "set_fields", {"bots": ["*"], "add": {"take_profit": "-0.2"}}))
        check(not everyone["written"] and everyone["error_count"] > 0, f"below zero: {everyone}")
        listed = data(await call(c, "list_bots", {}, bots=6))
        names = [b["name"] for b in listed["bots"]]
        check(listed["total"] == 6 and "ETH RSI" in names, f"list_bots: {listed}")
        with_tp = [n for n in names if "steps" not in n.lower()]
        lowered = data(await call(c, "set_fields", {"bots": with_tp, "add": {"take_profit": "-0.2"}}))
        check(lowered["written"] and lowered["valid"], f"lowered: {lowered}")
        explained = data(await call(c, "explain_bot", {"bot": "btc CONSERVATIVE"}, bots=6))
        tp = next(f for f in explained["fields"] if f["field"] == "take_profit")
        check(tp["config"] == "1.3" and tp["live"] == "1.5" and tp["differs"] and tp["set_at"].startswith("btc-conservative.toml:"),
              f"explained: {tp}")
        # Compare the variant before proposing it: a backtest of the edited bot on seeded paths.
        tested = data(await call(c, "backtest", {"bots": ["BTC conservative"], "synthetic": "paths=20,vol=80,days=30,seed=7"}, bots=6))
        check(tested["report"]["stress"][0]["paths"] == 20, f"backtest: {tested}")
        # Compare before applying: every changed bot as live and as planned, on the same paths, in
        # one call.
        planned = data(await call(c, "plan", {}))
        compared = data(await call(c, "backtest", {"plan_id": planned["plan_id"],
                                                   "synthetic": "paths=20,vol=80,days=30,seed=7"}, bots=6))
        pairs = compared["comparisons"]
        check(len(pairs) == len(with_tp) and all(p["before"] and p["after"] for p in pairs),
              f"compare before apply: {json.dumps(compared)[:2000]}")
        await apply_planned(c, planned)
        check("take_profit = 1.5 -> 1.3" in planned["human"], planned["human"][:3000])

        task("6 bots: revert")
        # Undo task 2: the files come back byte for byte, no `absent = true` behind, and the plan
        # puts the account back.
        history = data(await call(c, "history", {}))
        newest = history["applies"][0]
        check(history["total"] >= 3 and newest["updated"] == len(with_tp) and newest["revertible"], f"history: {history}")
        detail = data(await call(c, "history", {"apply_id": newest["apply_id"]}))
        check("+take_profit = 1.3" in detail["diff"], f"diff: {detail['diff'][:2000]}")
        reverted = data(await call(c, "revert", {"apply_id": newest["apply_id"]}))
        check(reverted["files"] and all(f.endswith("restored") for f in reverted["files"]), f"revert: {reverted['files']}")
        check(config_texts(root) == before_task_2, "the files are back byte for byte")
        check(all("absent = true" not in t for t in config_texts(root).values()), "no absent = true left behind")
        check(reverted["plan"]["summary"]["change"] == len(with_tp), f"the plan back: {reverted['plan']['summary']}")
        await apply_planned(c, reverted["plan"])
        # Task 2 again, for the tasks that follow.
        data(await call(c, "set_fields", {"bots": with_tp, "add": {"take_profit": "-0.2"}}))
        await plan_and_apply(c)

        task("6 bots: pause all")
        # Task 3: "pause all bots".
        paused = data(await call(c, "set_fields", {"bots": ["*"], "fields": {"enabled": False}}))
        check(paused["written"], f"paused: {paused}")
        await plan_and_apply(c)
        check(data(await call(c, "list_bots", {"selector": {"enabled": True}}))["total"] == 0, "no bot runs")

        task("6 bots: why a bot did badly")
        # Task 4: "why did bot X do badly" - with a stop loss (before: +4.2 USD reported).
        bot = next(b for b in listed["bots"] if b["name"] == "BTC conservative")
        web.post("deals", {"bot_id": bot["id"], "mode": "real", "status": "completed", "final_profit": "4.2",
                           "usd_final_profit": "4.2", "completed_safety_orders_count": 2, "bought_volume": "60",
                           "created_at": "2026-11-20T10:00:00.000Z", "closed_at": "2026-11-20T16:00:00.000Z"})
        web.post("deals", {"bot_id": bot["id"], "mode": "real", "status": "stop_loss_finished", "final_profit": "-60.5",
                           "usd_final_profit": "-60.5", "completed_safety_orders_count": 5, "bought_volume": "196",
                           "created_at": "2026-11-21T00:00:00.000Z", "closed_at": "2026-11-23T00:00:00.000Z"})
        deals = data(await call(c, "deals", {"bot": "btc conservative"}, bots=6))
        check(deals["realized"] == [{"currency": "USDT", "profit": "-56.3"}] and deals["realized_usd"] == "-56.3", f"deals: {deals}")
        check(deals["by_status"] == {"completed": 1, "stop_loss_finished": 1}, f"by status: {deals['by_status']}")
        check(deals["safety_orders_histogram"][5] == 1 and deals["safety_orders_histogram"][2] == 1, f"histogram: {deals}")
        check(deals["longest_duration_s"] == 172800 and deals["average_duration_s"] == 97200, f"durations: {deals}")
        check("stop-loss" in deals["note"], deals["note"])
        perf = data(await call(c, "bot_performance", {"bot": "BTC CONSERVATIVE"}))
        check(perf["realized_usd"] == "-56.3", f"performance: {perf}")
        unknown = await call(c, "deals", {"bot": "BTC conservativ"}, ok=False)
        check(unknown.is_error and "did you mean `BTC conservative`" in text_of(unknown), text_of(unknown))

        task("6 bots: blacklist")
        # Task 5: "blacklist LUNA", while USDT_PEPE was blacklisted by hand in the web app.
        data(await call(c, "blacklist_remove", {"pairs": ["USDT_LUNA"]}))
        await plan_and_apply(c)
        live = web.post("blacklist", {"pairs": ["USDT_FTT", "USDT_UST", "USDT_PEPE"], "mode": "real"})
        check("USDT_PEPE" in live["pairs"], f"the web app: {live}")
        luna = data(await call(c, "blacklist_add", {"pairs": ["usdt_luna"]}))
        check(luna["written"] and "USDT_LUNA" in luna["diff"], f"blacklist_add: {luna}")
        planned, _ = await plan_and_apply(c)
        check('"USDT_PEPE"' in planned["human"], f"the plan shows PEPE leaving: {planned['human']}")
        if elicit == "accept":
            check('REMOVE "USDT_PEPE"' in asked[-1] and 'add "USDT_LUNA"' in asked[-1], f"confirmation: {asked[-1]}")

        # remove_bot marks the bot absent; apply deletes it.
        gone = data(await call(c, "remove_bot", {"bot": "eth rsi"}))
        check("+absent = true" in gone["diff"], gone["diff"])
        planned, _ = await plan_and_apply(c)
        check(planned["summary"]["destroy"] == 1, f"delete: {planned['summary']}")


async def at_scale(web):
    """1,000 bots: unchanged, 100 updates, 100 creates; every answer within the budget."""
    shared = ('[settings]\nmode = "real"\n\n[accounts.main]\nname = "Binance Spot"\n\n'
              '[templates.t]\naccount = "main"\nstart = [{ strategy = "nonstop" }]\n'
              'base_order_volume = 10\nsafety_order_volume = 20\nmax_safety_orders = 5\nactive_safety_orders_count = 2\n'
              'safety_order_step_percentage = 1.2\nmartingale_volume_coefficient = 1.5\nmartingale_step_coefficient = 1.2\n'
              'take_profit = 1.5\ntake_profit_type = "total"\n\n'
              '[templates.u]\ntemplate = "t"\n')
    pairs = ["USDT_BTC", "USDT_ETH", "USDT_SOL", "USDT_BNB", "USDT_XRP"]
    with open(os.path.join(scale_root, "shared.toml"), "w") as f:
        f.write(shared)

    def write_bots(n, template_of):
        with open(os.path.join(scale_root, "bots.toml"), "w") as f:
            for i in range(n):
                f.write(f'[[bots]]\nname = "bot {i:04}"\ntemplate = "{template_of(i)}"\npairs = ["{pairs[i % 5]}"]\n\n')

    write_bots(1000, lambda i: "u" if i < 100 else "t")
    task("1,000 bots: setup")
    async with client(scale_root, "--allow-apply", logging=True, BOTFORM_MCP_APPLY_WAIT_S="0") as c:
        if mode == "legacy":
            await c.set_logging_level("info")
        accounts = data(await call(c, "list_accounts", {}))["accounts"]
        account_id = next(a["id"] for a in accounts if a["name"] == "Binance Spot")
        web.post("bots", {"mode": "real", "bots": [{
            "account_id": account_id, "name": f"bot {i:04}", "pairs": json.dumps([pairs[i % 5]]),
            "strategy_list": json.dumps([{"strategy": "nonstop", "options": {}}]),
            "base_order_volume": "10", "safety_order_volume": "20", "max_safety_orders": 5,
            "active_safety_orders_count": 2, "safety_order_step_percentage": "1.2",
            "martingale_volume_coefficient": "1.5", "martingale_step_coefficient": "1.2",
            "take_profit": "1.5", "take_profit_type": "total", "base_order_volume_type": "quote_currency",
            "safety_order_volume_type": "quote_currency", "strategy": "long"} for i in range(1000)]})

        valid = data(await call(c, "validate", {}, bots=1000))
        check(valid["valid"] and valid["bots_total"] == 1000 and valid["bots"] == [], f"validate: {valid['more']}")
        some = data(await call(c, "validate", {"bots": [f"bot {i:04}" for i in range(30)]}, bots=1000))
        check(len(some["bots"]) >= 10, f"numbers on request: {len(some['bots'])}")
        unchanged = data(await call(c, "plan", {}, bots=1000))
        check(unchanged["has_changes"] is False, f"1,000 unchanged bots: {unchanged['human'][:2000]}")
        # Walking the list with after_id meets every bot exactly once (before: pages trimmed to
        # fit dropped the bots at their edges, 5 of 1,000).
        seen, after, calls, ids = [], 0, 0, {}
        while True:
            listed = data(await call(c, "list_bots", {"after_id": after} if after else {}, bots=1000))
            calls += 1
            seen += [b["id"] for b in listed["bots"]]
            ids.update({b["name"]: b["id"] for b in listed["bots"]})
            check(listed["before"] == len(seen) - len(listed["bots"]), f"before counts what came: {listed['before']}")
            if listed["next_after_id"] == 0:
                break
            after = listed["next_after_id"]
            check(calls < 100, "the walk ends")
        check(len(seen) == listed["total"] and len(set(seen)) == len(seen) and len(seen) >= 1000,
              f"every bot once: {len(seen)} seen, {len(set(seen))} distinct, total {listed['total']}")
        print(f"list_bots walk: {len(seen)} bots in {calls} calls")

        task("1,000 bots: edit every BTC-base bot")
        # "Lower the take profit of every BTC bot by 0.2": one selector, resolved on the server,
        # edits all 200 (before: 110 of 111, a bot lost at a page edge).
        # (The five tasks' bots are live on the same account, unmanaged by this root.)
        btc = data(await call(c, "list_bots", {"selector": {"base": "BTC", "status": "managed"}}, bots=1000))
        check(btc["total"] == 200, f"200 bots buy BTC: {btc['total']}")
        quoted = data(await call(c, "list_bots", {"selector": {"quote": "BTC", "status": "managed"}}))
        check(quoted["total"] == 0, f"BTC as quote is another selection: {quoted['total']}")
        lowered = data(await call(c, "set_fields", {"selector": {"base": "BTC"}, "add": {"take_profit": "-0.2"}}, bots=1000))
        check(lowered["written"] and any("selected 200 config bots" in n for n in lowered["notes"]), f"lowered: {lowered['notes']}")
        edited = data(await call(c, "plan", {}, bots=1000))
        check(edited["summary"]["change"] == 200, f"every BTC bot, none missed: {edited['summary']}")
        data(await call(c, "set_fields", {"selector": {"base": "BTC"}, "fields": {"take_profit": None}}))
        check(data(await call(c, "plan", {}))["has_changes"] is False, "the edit taken back")

        task("1,000 bots: 5 worst of 30 days")
        # "Which 5 bots lost most in the last 30 days, and why": known deals, one call.
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc)

        def ago(days):
            return (now - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

        def deal(name, status, usd, opened, closed=None, filled=5, **extra):
            body = {"bot_id": ids[name], "mode": "real", "status": status, "final_profit": usd,
                    "usd_final_profit": usd, "completed_safety_orders_count": filled, "bought_volume": "100",
                    "created_at": ago(opened), **extra}
            if closed is not None:
                body["closed_at"] = ago(closed)
            web.post("deals", body)

        worst = ["bot 0345", "bot 0011", "bot 0789", "bot 0123", "bot 0567"]
        for rank, name in enumerate(worst):
            deal(name, "stop_loss_finished", f"-{150 - rank * 10}", 20, 10 + rank)
            deal(name, "completed", "2.5", 9, 8, filled=1)
        deal("bot 0900", "stop_loss_finished", "-1000", 50, 45)  # 45 days ago: outside the window
        deal("bot 0901", "bought", "0", 3, actual_usd_profit="-700")  # open: unrealized, not realized
        for i in range(100, 200):
            deal(f"bot {i:04}", "completed", f"{i % 7 + 1}", 6, 5, filled=i % 3)
        for i in range(200, 230):
            deal(f"bot {i:04}", "stop_loss_finished", "-20", 6, 4)
        ranked = data(await call(c, "fleet_performance", {"since": "30d", "limit": 5}, bots=1000))
        names = [r["name"] for r in ranked["ranked"]]
        check(names == worst, f"the 5 worst of 30 days, in one call: {names}")
        check(ranked["requests"] <= 3 and all("stop loss" in r["why"] for r in ranked["ranked"]),
              f"one read of the deals, and why: {ranked['requests']} {[r['why'] for r in ranked['ranked']]}")
        check(ranked["totals"]["unrealized_usd"] == "-700", f"the open deal is unrealized: {ranked['totals']}")
        print(f"fleet_performance: 5 worst of {ranked['bots_with_deals']} bots in 1 call, {ranked['requests']} requests")

        task("1,000 bots: clone the best bot")
        # "Clone my best bot": the best of 30 days, copied, planned: 3 calls.
        best = data(await call(c, "fleet_performance", {"sort": "profit", "limit": 1}, bots=1000))["ranked"][0]
        clone = data(await call(c, "add_bot", {"name": "best clone", "from_bot": best["name"], "account": "main"}, bots=1000))
        check(clone["written"] and clone["valid"], f"the clone: {clone}")
        cloned = data(await call(c, "plan", {}, bots=1000))
        check(cloned["summary"]["add"] == 1 and 'bot "best clone"' in cloned["human"], f"the clone's plan: {cloned['summary']}")
        data(await call(c, "remove_bot", {"bot": "best clone", "how": "forget"}))

        task("1,000 bots: blacklist")
        # A blacklist change at 1,000 bots, applied with the person's confirmation.
        data(await call(c, "blacklist_add", {"pairs": ["USDT_DOGE"]}, bots=1000))
        planned = data(await call(c, "plan", {"targets": ["blacklist"]}, bots=1000))
        check("USDT_DOGE" in planned["human"], f"the blacklist plan: {planned['human'][:1500]}")
        await apply_confirmed(c, planned, "USDT_DOGE", {"targets": ["blacklist"]})

        task("1,000 bots: compare before apply")
        # "Would a take profit of 1.7 do better on ten of them?": the edit, then one call backtests
        # each bot as live and as planned and keeps the plan; its apply asks the person with the
        # comparison in the question.
        before_edit = config_texts(scale_root)
        data(await call(c, "set_fields", {"template": "u", "fields": {"take_profit": "1.7"}}, bots=1000))
        ten = {"template": "u", "name_matches": "bot 00?0"}
        compared = data(await call(c, "backtest", {"selector": ten, "compare": "live",
                                                   "synthetic": "paths=5,days=7,interval=1h,seed=3"}, bots=1000))
        deltas = [x for x in compared["comparisons"] if x["delta"] is not None]
        check(len(deltas) == 10 and compared["total"] is not None and compared["plan_id"],
              f"ten bots compared in one call: {len(deltas)} {compared['more']}")
        check(all({"profit_p5", "profit", "profit_p95", "drawdown", "ladder_exhausted", "stopped"} <= set(x["delta"])
                  for x in deltas), f"the deltas: {deltas[0]}")
        task("1,000 bots: apply with confirmation")
        await apply_confirmed(c, compared, "Backtest of 10 bots", {"selector": ten})

        task("1,000 bots: revert")
        # Undo it: the files back byte for byte, no `absent = true`, and a plan that puts the ten back.
        history = data(await call(c, "history", {}, bots=1000))
        newest = history["applies"][0]
        check(newest["updated"] == 10 and newest["revertible"], f"history: {newest}")
        reverted = data(await call(c, "revert", {"apply_id": newest["apply_id"]}, bots=1000))
        check(config_texts(scale_root) == before_edit, "the files are back byte for byte")
        check(all("absent = true" not in t for t in config_texts(scale_root).values()), "no absent = true left behind")
        check(reverted["plan"]["summary"]["change"] == 10, f"the plan back: {reverted['plan']['summary']}")
        await apply_confirmed(c, reverted["plan"], "take_profit", {})
        task("1,000 bots: other reads")
        await call(c, "explain_bot", {"bot": "bot 0500"}, bots=1000)
        await call(c, "market_pairs", {"account": "main"}, bots=1000)
        await call(c, "list_strategies", {}, bots=1000)
        await call(c, "describe_config", {}, bots=1000)
        everyone = data(await call(c, "backtest", {"synthetic": "paths=1,days=1,interval=1h,seed=1"}, bots=1000))
        check(everyone["more"] and everyone["report"]["stress"], f"a 1,000-bot backtest is cut to fit: {everyone['more']}")
        imported = data(await call(c, "import", {}, bots=1000))
        check(imported["more"], f"a large import says how to get it: {imported['more']}")

        # 100 updates (one template), then 100 creates.
        data(await call(c, "set_fields", {"template": "u", "fields": {"take_profit": "1.7"}}, bots=1000))
        updates = data(await call(c, "plan", {}, bots=1000))
        check(updates["summary"]["change"] == 100 and updates["pages"] > 1, f"100 updates: {updates['summary']} {updates['pages']}")
        check("show_plan" in updates["more"], updates["more"])
        for page in range(2, updates["pages"] + 1):
            shown = data(await call(c, "show_plan", {"plan_id": updates["plan_id"], "page": page}, bots=1000))
            check(shown["page"] == page, f"page {page}")
        one = data(await call(c, "show_plan", {"plan_id": updates["plan_id"], "bot": "BOT 0007"}))
        check(len(one["changes"]) == 1 and one["changes"][0]["bot_name"] == "bot 0007", f"one bot: {one}")
        plan_json = await c.read_resource(f"botform://plans/{updates['plan_id']}")
        check(len(json.loads(plan_json.contents[0].text)["changes"]) == 100, "the full plan is a resource")
        review = await c.get_prompt("review_plan", {"plan_id": updates["plan_id"]})
        check(len(review.messages[0].content.text) <= BUDGET, "review_plan stays within the budget")
        print(f"size review_plan 1000 {len(review.messages[0].content.text)}")

        write_bots(1100, lambda i: "u" if i < 100 else "t")
        creates = data(await call(c, "plan", {}, bots=1100))
        check(creates["summary"]["add"] == 100 and creates["summary"]["change"] == 100, f"creates: {creates['summary']}")

        # A long apply: progress notifications, an apply_id past the wait, apply_status to the end.
        write_bots(1030, lambda i: "t")
        data(await call(c, "set_fields", {"template": "u", "fields": {"take_profit": None}}))
        planned = data(await call(c, "plan", {}))
        check(planned["summary"]["add"] == 30 and planned["summary"]["change"] == 0, f"30 creates: {planned['summary']}")
        progress = []

        async def on_progress(p, total, message):
            progress.append((p, total))

        first = await call(c, "apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]},
                           progress=on_progress)
        answer = data(first)
        check(not first.is_error and answer["finished"] is False and answer["apply_id"].startswith("apply-"),
              f"a long apply answers before the client's timeout: {answer}")
        polls = 0
        while not answer["finished"]:
            polls += 1
            status = await call(c, "apply_status", {"apply_id": answer["apply_id"]}, progress=on_progress)
            check(size(status) <= BUDGET and not status.is_error, f"apply_status: {text_of(status)[:500]}")
            answer = data(status)
        check(polls > 0, "the apply went on past the first answer")
        check(answer["succeeded"] == 30 and answer["failed"] == 0, f"the apply ended: {answer}")
        check(progress and progress[-1][1] == 30 and progress[-1][0] >= progress[0][0], f"progress notifications: {progress}")
        check(any("created" in str(line) for line in logs), f"apply progress as log messages: {logs[:3]}")
        again = data(await call(c, "plan", {}))
        check(again["has_changes"] is False, f"after the long apply: {again['human'][:1000]}")


async def edits_hit_what_was_named():
    """Exact names first; another case only when unique; a name on two accounts needs the account;
    concurrent edits of one file, from one server and from four, are never lost."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        shared = ('[accounts.a]\nname = "Binance Spot"\n\n[accounts.b]\nname = "Bybit"\n\n'
                  '[templates.t]\nstart = [{ strategy = "nonstop" }]\n'
                  'base_order_volume = 10\nsafety_order_volume = 20\nmax_safety_orders = 5\nactive_safety_orders_count = 2\n'
                  'safety_order_step_percentage = 1.2\nmartingale_volume_coefficient = 1.5\nmartingale_step_coefficient = 1.2\n'
                  'take_profit = 1.5\ntake_profit_type = "total"\n')
        bots = "".join(f'[[bots]]\nname = "{n}"\ntemplate = "t"\naccount = "{a}"\npairs = ["USDT_BTC"]\n\n'
                       for n, a in [("Alpha", "a"), ("dup", "a"), ("dup", "b")])
        bots += "".join(f'[[bots]]\nname = "c{i}"\ntemplate = "t"\naccount = "a"\npairs = ["USDT_BTC"]\n\n'
                        for i in range(40))
        with open(os.path.join(d, "shared.toml"), "w") as f:
            f.write(shared)
        with open(os.path.join(d, "bots.toml"), "w") as f:
            f.write(bots)
        async with client(d) as c:
            # Before: "alpha" edited "Alpha" silently. Now it still does, being the only one, and says so.
            one = data(await call(c, "set_fields", {"bots": ["alpha"], "fields": {"take_profit": "1.1"}}))
            check(one["written"] and any("Alpha" in n for n in one.get("notes", [])), f"case note: {one}")
            with open(os.path.join(d, "bots.toml"), "a") as f:
                f.write('[[bots]]\nname = "ALPHA"\ntemplate = "t"\naccount = "b"\npairs = ["USDT_BTC"]\n')
            two = await call(c, "set_fields", {"bots": ["alpha"], "fields": {"take_profit": "1.2"}}, ok=False)
            check(two.is_error and "exact name" in text_of(two), f"two in other cases: {text_of(two)}")
            # Before: remove_bot {bot: "dup"} marked one of the two `dup` bots absent.
            dup = await call(c, "remove_bot", {"bot": "dup"}, ok=False)
            check(dup.is_error and "account" in text_of(dup), f"a name on two accounts: {text_of(dup)}")
            gone = data(await call(c, "remove_bot", {"bot": "dup", "account": "b"}))
            text = open(os.path.join(d, "bots.toml")).read()
            second_dup = text.split('name = "dup"')[2]
            check("absent = true" in second_dup.split("[[bots]]")[0] and text.count("absent = true") == 1,
                  f"the dup on b, only: {gone['diff']}")
            # Before: 18 of 44 concurrent edits lost, each answering "written": true.
            answers = await asyncio.gather(*[
                c.call_tool("set_fields", {"bots": [f"c{i}"], "fields": {"take_profit": f"2.{i + 10}"}})
                for i in range(20)])
        async with client(d) as c1, client(d) as c2, client(d) as c3, client(d) as c4:
            servers = [c1, c2, c3, c4]
            answers += await asyncio.gather(*[
                servers[i % 4].call_tool("set_fields", {"bots": [f"c{i}"], "fields": {"take_profit": f"2.{i + 10}"}})
                for i in range(20, 40)])
        text = open(os.path.join(d, "bots.toml")).read()
        for i, answer in enumerate(answers):
            written = not answer.is_error and answer.structured_content["written"]
            entry = text.split(f'name = "c{i}"')[1].split("[[bots]]")[0]
            check(written, f"edit {i} not written: {text_of(answer)[:500]}")
            check(f"take_profit = 2.{i + 10}" in entry, f"edit {i} answered written and was lost:\n{entry}")


async def nothing_from_outside_the_root():
    """A symlinked directory inside --root that leads out is not read: before, plan and apply
    created a bot defined outside, and validate read it."""
    import tempfile
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as outside:
        with open(os.path.join(d, "bots.toml"), "w") as f:
            f.write('[accounts.main]\nname = "Binance Spot"\n\n[[bots]]\nname = "insider"\naccount = "main"\n'
                    'pairs = ["USDT_BTC"]\nstart = [{ strategy = "nonstop" }]\nbase_order_volume = 10\n'
                    'safety_order_volume = 20\nmax_safety_orders = 2\nactive_safety_orders_count = 1\n'
                    'safety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\n'
                    'martingale_step_coefficient = 1\ntake_profit = 1\ntake_profit_type = "total"\n')
        with open(os.path.join(outside, "outside.toml"), "w") as f:
            f.write(open(os.path.join(d, "bots.toml")).read().split("[[bots]]")[1].join(["[[bots]]", ""])
                    .replace("insider", "outsider"))
        os.symlink(outside, os.path.join(d, "linked"))
        async with client(d) as c:
            checked = data(await call(c, "validate", {}))
            check(checked["bots_total"] == 1 and checked["files"] == 1, f"validate read outside: {checked}")
            check(any(x["code"] == "outside-root" for x in checked["diagnostics"]), f"said so: {checked}")
            planned = data(await call(c, "plan", {}))
            check("outsider" not in planned["human"] and "insider" in planned["human"], planned["human"][:1500])


async def main():
    await nothing_from_outside_the_root()
    await edits_hit_what_was_named()
    web = WebApp()
    try:
        await five_tasks(web)
        await at_scale(web)
    finally:
        web.close()
    for name, (calls, chars) in spent.items():
        print(f"task {name!r}: {calls} calls, {chars} characters")
    print(f"mcp assistant ({mode}, elicitation {elicit}): all checks passed")


asyncio.run(main())
