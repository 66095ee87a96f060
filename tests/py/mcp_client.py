"""Drive `botform mcp` with the official Python MCP SDK, as an assistant would.

Usage: python3 mcp_client.py BOTFORM_BINARY ROOT_DIR MODE ELICIT
  MODE:   auto (2026-07-28) | legacy (2025-11-25)
  ELICIT: accept | none   (whether the client can ask the person)
Exits non-zero with a message on the first failed check.
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

from mcp import Client, StdioServerParameters, types

binary, root, mode, elicit = sys.argv[1:5]
EXPECTED_TOOLS = {
    "validate", "plan", "apply", "import", "describe_config", "list_accounts",
    "list_strategies", "market_pairs", "bot_performance", "show_plan", "apply_status", "set_fields",
    "add_bot", "remove_bot", "blacklist_add", "blacklist_remove", "list_bots", "explain_bot", "deals",
    "currency_rates", "backtest",
}


def check(condition, message):
    if not condition:
        print(f"FAIL ({mode}, {elicit}): {message}", file=sys.stderr)
        sys.exit(1)


asked = []


async def accept(context, params):
    asked.append(params.message)
    return types.ElicitResult(action="accept", content={"confirm": True})


def server(*flags):
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREECOMMAS_")}
    env["RUST_LOG"] = "warn"
    env["THREECOMMAS_TARGET"] = "sandbox"  # under CI=true the sandbox is never a silent default
    if "--tools" not in flags:
        flags = ("--tools", "all", *flags)
    return StdioServerParameters(command=binary, args=["mcp", "--root", root, *flags], env=env)


def client(*flags, confirm_by_flag=True):
    kwargs = {"mode": mode}
    if elicit == "accept":
        kwargs["elicitation_callback"] = accept
    elif "--allow-apply" in flags and confirm_by_flag:
        # A client that cannot ask the person applies only on the person's explicit flag.
        flags = (*flags, "--allow-unconfirmed-apply")
    return Client(server(*flags), **kwargs)


def structured(result):
    check(result.structured_content is not None, f"structured content expected: {result}")
    return result.structured_content


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def main():
    # The default tool sets cost at most 20,000 characters of every session (before: 74,556 for
    # 22 tools); `--tools all` serves the rest.
    async with client("--tools", "config,apply,fleet,backtest") as c:
        listed = (await c.list_tools()).tools
        cost = sum(len(json.dumps(t.model_dump(by_alias=True, exclude_none=True), separators=(",", ":"),
                                  ensure_ascii=False)) for t in listed)
        print(f"tool list: {len(listed)} tools, {cost} characters")
        check(cost <= 20_000, f"the default tool list costs {cost} characters")
        check("fleet_performance" in {t.name for t in listed} and "import" not in {t.name for t in listed},
              f"default sets: {sorted(t.name for t in listed)}")
        schema = await c.read_resource("botform://tools/backtest/output-schema")
        check("$defs" in schema.contents[0].text, "the full output schema is a resource")
    async with client() as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        check(EXPECTED_TOOLS <= set(tools), f"tools: {sorted(tools)}")
        check(tools["validate"].annotations.read_only_hint is True, "validate is read-only")
        check(tools["apply"].annotations.destructive_hint is True, "apply is destructive")
        check(tools["apply"].annotations.read_only_hint is False, "apply is not read-only")
        check(tools["validate"].output_schema is not None, "validate has an output schema")
        for name, tool in tools.items():
            a = tool.annotations
            hints = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
            check(None not in hints, f"{name} states all four hints: {hints}")
        check(tools["plan"].annotations.open_world_hint is True, "plan talks to 3Commas")
        check(tools["describe_config"].annotations.open_world_hint is False, "describe_config is offline")
        # An argument the tool does not take is refused by name (before: silently ignored).
        stray = await c.call_tool("list_bots", {"selecter": {"base": "BTC"}})
        check(stray.is_error and "selecter" in text_of(stray) and "selector" in text_of(stray),
              f"unknown argument: {text_of(stray)}")
        # Edits that overwrite or remove what the files said say so; adding does not.
        for name, destructive in [("set_fields", True), ("remove_bot", True), ("blacklist_remove", True),
                                  ("add_bot", False), ("blacklist_add", False)]:
            check(tools[name].annotations.destructive_hint is destructive, f"{name} destructive: {destructive}")

        # A broken file gives located diagnostics.
        broken = os.path.join(root, "broken.toml")
        with open(broken, "w") as f:
            f.write('[[bots]]\nname = "x"\naccount = "main"\ntake_proft = 1\n')
        report = structured(await c.call_tool("validate", {}))
        check(report["valid"] is False, "the broken config is invalid")
        typo = [d for d in report["diagnostics"] if "take_proft" in d["message"]]
        check(typo and typo[0]["file"] == "broken.toml" and typo[0]["line"] == 4 and typo[0]["column"] == 1, f"located: {typo}")
        check("take_profit" in (typo[0]["help"] or ""), "did you mean")
        os.remove(broken)
        report = structured(await c.call_tool("validate", {}))
        check(report["valid"] is True, f"the fix validates: {report['diagnostics'][:2]}")
        check(any(b["numbers"] for b in report["bots"]), "DCA numbers come with valid bots (few bots: all of them)")

        # Plan returns an id; apply without --allow-apply is refused.
        planned = structured(await c.call_tool("plan", {}))
        check(planned["plan_id"].startswith("plan-") and planned["has_changes"], f"plan: {planned['plan_id']}")
        check("Plan: 5 to add" in planned["human"], planned["human"][-200:])
        refused = await c.call_tool("apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})
        check(refused.is_error and "--allow-apply" in text_of(refused), f"apply without the flag: {text_of(refused)}")

        # Hostile YAML is a located error, and the server lives on (before: 6 KB killed it).
        with open(os.path.join(root, "deep.yaml"), "w") as f:
            f.write("- " * 15000 + "1\n")
        with open(os.path.join(root, "bomb.yaml"), "w") as f:
            f.write('a: &a ["x","x","x","x","x","x","x","x","x"]\n')
            for prev, name in zip("abcdefgh", "bcdefghi"):
                f.write(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n")
        hostile = structured(await c.call_tool("validate", {"paths": ["deep.yaml", "bomb.yaml"]}))
        messages = " ".join(d["message"] for d in hostile["diagnostics"])
        check("nested more than 64" in messages and "aliases expand" in messages, f"hostile: {messages}")
        os.remove(os.path.join(root, "deep.yaml"))
        os.remove(os.path.join(root, "bomb.yaml"))

        # A root escape is refused, for tools and resources alike.
        escaped = await c.call_tool("validate", {"paths": ["../"]})
        check(escaped.is_error and "leaves the root" in text_of(escaped), f"escape: {text_of(escaped)}")
        escaped = await c.call_tool("validate", {"paths": ["/etc"]})
        check(escaped.is_error, "absolute paths are refused")

        # The editing tools never write through a planted link: a config file under the root
        # that is a symlink to a file outside it is refused, and the outside file is untouched.
        outside_dir = os.path.join(os.path.dirname(root.rstrip("/")), f"outside-{mode}-{elicit}")
        os.makedirs(outside_dir, exist_ok=True)
        outside = os.path.join(outside_dir, "victim.toml")
        victim = '[[bots]]\nname = "victim"\naccount = "main"\n'
        with open(outside, "w") as f:
            f.write(victim)
        os.symlink(outside, os.path.join(root, "planted.toml"))
        for tool, args in [("set_fields", {"bots": ["victim"], "fields": {"take_profit": 9}}),
                           ("remove_bot", {"bot": "victim", "how": "forget"}),
                           ("add_bot", {"name": "x", "file": "planted.toml", "account": "main"})]:
            planted = await c.call_tool(tool, args)
            check(planted.is_error and "outside the root" in text_of(planted), f"{tool} through a link: {text_of(planted)}")
        with open(outside) as f:
            check(f.read() == victim, "the file outside the root is untouched")
        os.remove(os.path.join(root, "planted.toml"))
        shutil.rmtree(outside_dir)

        resources = {r.uri for r in (await c.list_resources()).resources}
        check("botform://schema/config.json" in resources, f"resources: {resources}")
        check("botform://config/shared.toml" in resources, f"config files are resources: {resources}")
        try:
            await c.read_resource("botform://config/.botform/sandbox.json")
            check(False, "only config files are readable as resources")
        except Exception:
            pass
        schema = await c.read_resource("botform://schema/config.json")
        check("botform config" in schema.contents[0].text, "the schema resource")
        prompts = {p.name for p in (await c.list_prompts()).prompts}
        check({"design_bot", "review_plan"} <= prompts, f"prompts: {prompts}")
        prompt = await c.get_prompt("design_bot", {"goal": "a conservative ETH bot", "budget": "500 USDT"})
        check("500 USDT" in prompt.messages[0].content.text, "the design prompt")

        accounts = structured(await c.call_tool("list_accounts", {}))["accounts"]
        check(any(a["name"] == "Binance Spot" for a in accounts), f"accounts: {accounts}")
        pairs = structured(await c.call_tool("market_pairs", {"account": "Binance Spot", "quote": "USDT"}))["pairs"]
        check("USDT_ETH" in pairs and all(p.startswith("USDT_") for p in pairs), f"pairs: {pairs}")
        strategies = structured(await c.call_tool("list_strategies", {}))["strategies"]
        rsi = next(s for s in strategies if s["id"] == "rsi")
        check(any(o["name"] == "time" and "15m" in o["choices"] for o in rsi["options"]), f"rsi: {rsi}")
        field = structured(await c.call_tool("describe_config", {"field": "max_safety_orders"}))["sections"][0]["fields"][0]
        check("safety orders" in field["description"] and field["type"] == "integer 0..200", f"describe: {field}")

    if elicit == "none":
        # Nobody can be asked and the person did not waive it: nothing changes.
        async with client("--allow-apply", confirm_by_flag=False) as c:
            planned = structured(await c.call_tool("plan", {}))
            refused = await c.call_tool("apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})
            check(refused.is_error and "cannot ask the person" in text_of(refused)
                  and "--allow-unconfirmed-apply" in text_of(refused), f"unconfirmed apply: {text_of(refused)}")
            still = structured(await c.call_tool("plan", {}))
            check(still["has_changes"], f"nothing was applied: {still['human']}")

    async with client("--allow-apply") as c:
        planned = structured(await c.call_tool("plan", {}))
        started = time.monotonic()
        applied = await c.call_tool("apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})
        check(not applied.is_error, f"apply with the flag: {text_of(applied)}")
        if elicit == "accept":
            check(asked and "5 to add" in asked[-1], f"the person was asked: {asked}")
        again = structured(await c.call_tool("plan", {}))
        check(again["has_changes"] is False, f"the next plan is empty: {again['human']}")

        # The confirmation spells out what changes: a pair removed from the blacklist is named
        # (before: "1 to change", while USDT_PEPE silently left the blacklist).
        if elicit == "accept":
            shared_toml = os.path.join(root, "shared.toml")
            with open(shared_toml) as f:
                before_edit = f.read()
            with_pepe = before_edit.replace('pairs = ["USDT_LUNA", "USDT_FTT", "USDT_UST"]', 'pairs = ["USDT_LUNA", "USDT_FTT", "USDT_UST", "USDT_PEPE"]')
            check(with_pepe != before_edit, "the example blacklist is where the test expects it")
            for text, expect in [(with_pepe, 'add "USDT_PEPE"'), (before_edit, 'REMOVE "USDT_PEPE"')]:
                with open(shared_toml, "w") as f:
                    f.write(text)
                p = structured(await c.call_tool("plan", {}))
                done = await c.call_tool("apply", {"plan_id": p["plan_id"], "plan_hash": p["plan_hash"]})
                check(not done.is_error, f"blacklist apply: {text_of(done)}")
                check(expect in asked[-1], f"the confirmation names it: {asked[-1]!r}")

        # The applied plan id is spent; a stale plan is refused.
        spent = await c.call_tool("apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})
        check(spent.is_error and "unknown plan_id" in text_of(spent), f"spent id: {text_of(spent)}")

        # Three applies of one plan at once, 20 times (in the first scenario; 3 in the others):
        # one goes on, the others are refused, and no bot is ever created twice (before: all
        # three succeeded in 1 of 6 trials).
        race = os.path.join(root, "race.toml")
        trials = 20 if (mode, elicit) == ("auto", "accept") else 3
        for trial in range(trials):
            with open(race, "w") as f:
                f.write(f'[[bots]]\nname = "race {trial}"\naccount = "main"\npairs = ["USDT_ETH"]\n'
                        'template = "conservative"\nstart = "always"\n')
            raced = structured(await c.call_tool("plan", {}))
            check(raced["has_changes"], f"trial {trial} plans a create: {raced['human']}")
            args = {"plan_id": raced["plan_id"], "plan_hash": raced["plan_hash"]}
            results = await asyncio.gather(*(c.call_tool("apply", args) for _ in range(3)))
            went_on = [r for r in results if not r.is_error]
            check(len(went_on) == 1, f"trial {trial}: {[text_of(r) for r in results]}")
        os.remove(race)
        raced_bots = structured(await c.call_tool("list_bots", {"selector": {"name_matches": "race"}}))["bots"]
        for trial in range(trials):
            count = sum(1 for b in raced_bots if b["name"] == f"race {trial}")
            check(count == 1, f"race {trial} exists {count} times")

        shared = os.path.join(root, "shared.toml")
        with open(shared) as f:
            original = f.read()
        with open(shared, "w") as f:
            f.write(original.replace("cooldown = 300", "cooldown = 600"))
        stale = structured(await c.call_tool("plan", {}))
        with open(shared, "w") as f:
            f.write(original.replace("cooldown = 300", "cooldown = 900"))
        fresh = structured(await c.call_tool("plan", {}))
        done = await c.call_tool("apply", {"plan_id": fresh["plan_id"], "plan_hash": fresh["plan_hash"]})
        check(not done.is_error, f"fresh plan applies: {text_of(done)}")
        refused = await c.call_tool("apply", {"plan_id": stale["plan_id"], "plan_hash": stale["plan_hash"]})
        check(refused.is_error and "stale" in text_of(refused), f"stale plan: {text_of(refused)}")
        bad_hash = await c.call_tool("apply", {"plan_id": stale["plan_id"], "plan_hash": "0" * 64})
        check(bad_hash.is_error, "a wrong hash is refused")

        perf = structured(await c.call_tool("bot_performance", {"bot": "BTC conservative"}))
        check(perf["deals_stats"]["active"] == 0, f"performance: {perf}")
        imported = structured(await c.call_tool("import", {"format": "yaml"}))
        check(not imported["written"], "import returns text only")
        check(imported["files"] or "too large" in imported["more"], f"what fits comes back, the rest is named: {imported}")
        written = structured(await c.call_tool("import", {"format": "yaml", "write_to": "imported"}))
        check("imported/bots-binance-spot.yaml" in written["written"], f"write_to writes every file: {written['written']}")
        shutil.rmtree(os.path.join(root, "imported"))

    # Deletes split into small plans add up within a session: each batch alone is within the
    # 30% limit, together they are not (before: an assistant passed the rule 3 bots at a time).
    batch = os.path.join(root, "batch.toml")

    def write_batch(absent):
        with open(batch, "w") as f:
            for i in range(10):
                f.write(f'[[bots]]\nname = "batch {i}"\naccount = "futures"\npairs = ["USDT_BTCUSDT"]\n'
                        f'template = "conservative"\nstart = "always"\n')
                if i in absent:
                    f.write("absent = true\n")

    async with client("--allow-apply", "--allow-delete") as c:
        async def plan_and_apply():
            planned = structured(await c.call_tool("plan", {}))
            return await c.call_tool("apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})

        write_batch(set())
        made = await plan_and_apply()
        check(not made.is_error, f"ten bots on futures: {text_of(made)}")
        write_batch({0, 1})
        first = await plan_and_apply()
        check(not first.is_error, f"2 of 11 deleted: {text_of(first)}")
    # A restarted server still counts them: the tally is kept per day in the state dir.
    async with client("--allow-apply", "--allow-delete") as c:
        write_batch({0, 1, 2, 3})
        planned = structured(await c.call_tool("plan", {}))
        second = await c.call_tool("apply", {"plan_id": planned["plan_id"], "plan_hash": planned["plan_hash"]})
        check(second.is_error and "applied through botform mcp earlier today" in text_of(second),
              f"2 more of 9, 4 today across a restart: {text_of(second)}")
    os.remove(batch)

    await deal_actions()

    print(f"mcp ({mode}, elicitation {elicit}): all checks passed")


def audit_count(deal_id):
    path = os.path.join(os.environ["BOTFORM_STATE_DIR"], "audit.jsonl")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for line in f if line.strip()
                   and json.loads(line)["deal"] == deal_id and json.loads(line)["who"] == "mcp")


async def deal_actions():
    # Deal actions exist only with --allow-deal-actions, and each needs the person's yes through
    # the client: a client that cannot ask is refused and nothing is sent. The deal is put in by a
    # second sandbox process on the same state database, as the web app would open one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREECOMMAS_")}
    sandbox = subprocess.Popen([binary, "sandbox", "serve", "--builtin", "--listen", "127.0.0.1:0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        url = sandbox.stdout.readline().strip()
        with urllib.request.urlopen(url + "/__sandbox/state") as r:
            state = json.load(r)
        bot_id = next(b["id"] for b in state["real"]["bots"].values() if b["name"] == "BTC conservative")
        request = urllib.request.Request(url + "/__sandbox/deals", method="POST",
                                         data=json.dumps({"bot_id": bot_id, "status": "bought", "mode": "real"}).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request) as r:
            deal_id = json.load(r)["id"]

        async with client("--tools", "fleet") as c:
            names = {t.name for t in (await c.list_tools()).tools}
            check("deal_action" not in names, "deal_action is served only with --allow-deal-actions")
        async with client("--tools", "fleet", "--allow-deal-actions") as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            check({"deal_action", "signals", "smart_trades"} <= set(tools), f"trading set: {sorted(tools)}")
            check(tools["deal_action"].annotations.destructive_hint is True, "deal_action is destructive")
            before = audit_count(deal_id)
            asked.clear()
            result = await c.call_tool("deal_action", {"deal": deal_id, "action": "cancel"})
            if elicit == "accept":
                check(not result.is_error, f"confirmed cancel: {text_of(result)}")
                outcome = structured(result)["outcome"]
                check(outcome["status"] == "cancelled", f"the cancel is followed to its end: {outcome}")
                check(asked and f"deal {deal_id}" in asked[-1] and "cancel" in asked[-1],
                      f"the person is asked about this deal: {asked}")
                again = await c.call_tool("deal_action", {"deal": deal_id, "action": "panic_sell"})
                check(again.is_error and "already over" in text_of(again), f"a closed deal: {text_of(again)}")
            else:
                check(result.is_error and "cannot ask the person" in text_of(result), f"no elicitation: {text_of(result)}")
                with urllib.request.urlopen(url + "/__sandbox/state") as r:
                    deal = json.load(r)["real"]["deals"][str(deal_id)]
                check(deal["status"] == "bought", f"nothing was sent: {deal['status']}")
            check(audit_count(deal_id) > before, "the attempt is in the audit log")
            signals_answer = structured(await c.call_tool("signals", {}))
            check(signals_answer["bots"] == [] or all(
                m["message"]["email_token"] != os.environ.get("THREECOMMAS_EMAIL_TOKEN", "-")
                for b in signals_answer["bots"] for m in b["messages"]), "the token never shows")
            trades = structured(await c.call_tool("smart_trades", {}))
            check(trades["total"] == 0 and trades["smart_trades"] == [], f"no SmartTrades: {trades}")
    finally:
        sandbox.kill()
        sandbox.wait()


asyncio.run(main())
