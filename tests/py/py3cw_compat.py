"""Drive a botform sandbox with py3cw, the most used third-party Python 3Commas client.

Usage: python3 py3cw_compat.py BASE_URL API_KEY API_SECRET
Exits non-zero with a message on the first difference from what 3Commas would answer.
"""
import json
import sys
import time
import urllib.request

import py3cw.request
from py3cw.request import Py3CW

base_url, key, secret = sys.argv[1:4]
# py3cw has no setting for the host: point its module constant at the sandbox.
py3cw.request.API_URL = base_url


def check(condition, message):
    if not condition:
        print("FAIL:", message, file=sys.stderr)
        sys.exit(1)


client = Py3CW(key=key, secret=secret, request_options={"nr_of_retries": 0})

error, accounts = client.request(entity="accounts", action="")
check(not error, f"accounts: {error}")
binance = next(a for a in accounts if a["name"] == "Binance Spot")

bot_request = {
    "account_id": binance["id"],
    "name": "py3cw bot",
    "pairs": ["USDT_BTC"],
    "base_order_volume": "10.0",
    "take_profit": "1.5",
    "safety_order_volume": "20.0",
    "martingale_volume_coefficient": "1.2",
    "martingale_step_coefficient": "1.1",
    "max_safety_orders": 3,
    "active_safety_orders_count": 1,
    "safety_order_step_percentage": "1.5",
    "take_profit_type": "total",
    "strategy_list": [{"strategy": "nonstop", "options": {}}],
}
error, bot = client.request(entity="bots", action="create_bot", payload=bot_request)
check(not error, f"create_bot: {error}")
check(bot["is_enabled"] is False, "a created bot starts disabled")
check(bot["type"] == "Bot::SingleBot", f"type {bot['type']}")
check(bot["take_profit"] == "1.5", f"decimals come back as strings: {bot['take_profit']!r}")
bot_id = str(bot["id"])

error, shown = client.request(entity="bots", action="show", action_id=bot_id)
check(not error, f"show: {error}")
check(shown["active_deals"] == [], "show carries active_deals")

update = dict(bot_request, take_profit="2.5")
update.pop("account_id")
error, updated = client.request(entity="bots", action="update", action_id=bot_id, payload=update)
check(not error, f"update: {error}")
check(updated["take_profit"] == "2.5", f"update took effect: {updated['take_profit']}")

error, missing = client.request(entity="bots", action="update", action_id=bot_id, payload={"name": "only a name"})
check(error and missing == {}, "an update without the required fields is refused")

error, enabled = client.request(entity="bots", action="enable", action_id=bot_id)
check(not error and enabled["is_enabled"] is True, f"enable: {error}")
error, disabled = client.request(entity="bots", action="disable", action_id=bot_id)
check(not error and disabled["is_enabled"] is False, f"disable: {error}")

error, listed = client.request(entity="bots", action="", payload={"scope": "disabled", "limit": 10})
check(not error and [b["id"] for b in listed] == [bot["id"]], f"list with a query: {error}")

error, blacklist = client.request(entity="bots", action="pairs_black_list")
check(not error and blacklist == {"pairs": []}, f"empty blacklist: {error} {blacklist}")
error, result = client.request(entity="bots", action="update_pairs_black_list", payload={"pairs": ["USDT_LUNA", "USDT_FTT"]})
check(not error, f"update blacklist: {error}")
error, blacklist = client.request(entity="bots", action="pairs_black_list")
check(blacklist == {"pairs": ["USDT_LUNA", "USDT_FTT"]}, f"blacklist now {blacklist}")

# Deal actions, as py3cw sends them (a deal put in as the web app would open one).
seeded = urllib.request.Request(base_url + "/__sandbox/deals", method="POST",
                                data=json.dumps({"bot_id": int(bot_id), "status": "bought"}).encode(),
                                headers={"content-type": "application/json"})
with urllib.request.urlopen(seeded) as r:
    deal_id = str(json.load(r)["id"])
error, order = client.request(entity="deals", action="add_funds", action_id=deal_id,
                              payload={"quantity": 0.001, "is_market": True, "response_type": "market_order"})
check(not error and order["deal_order_type"] == "Manual Safety", f"add_funds: {error} {order}")
error, _ = client.request(entity="deals", action="add_funds", action_id=deal_id,
                          payload={"quantity": 0.001, "is_market": False})
check(error and error.get("status_code") == 400 and "rate" in error.get("msg", ""), f"a limit order needs a rate: {error}")
error, deal = client.request(entity="deals", action="update_deal", action_id=deal_id, payload={"take_profit": 2.5})
check(not error and deal["take_profit"] == "2.5", f"update_deal: {error} {deal}")
error, deal = client.request(entity="deals", action="cancel", action_id=deal_id)
check(not error and deal["status"] == "cancel_pending", f"cancel answers pending: {error} {deal}")
for _ in range(50):
    error, deal = client.request(entity="deals", action="show", action_id=deal_id)
    if deal["status"] == "cancelled":
        break
    time.sleep(0.1)
check(deal["status"] == "cancelled" and deal["finished?"] is True, f"the cancel settles: {deal}")
error, _ = client.request(entity="deals", action="panic_sell", action_id=deal_id)
check(error and error.get("status_code") == 403, f"a finished deal cannot be panic sold: {error}")
error, trades = client.request(entity="smart_trades_v2", action="")
check(not error and trades == [], f"no SmartTrades: {error} {trades}")

error, deleted = client.request(entity="bots", action="delete", action_id=bot_id)
check(not error and deleted is True, f"delete answers true: {error} {deleted!r}")
error, gone = client.request(entity="bots", action="show", action_id=bot_id)
check(error and error.get("status_code") == 404, f"deleted bot is gone: {error}")

# Grid bots (GRID-SIGNALS-DEALS §1): the 48-key entity, strings where 3Commas sends strings,
# write-only fields never shown, update with the core set and never the pair.
grid_request = {
    "account_id": binance["id"], "pair": "USDT_BTC", "name": "py3cw grid",
    "upper_price": 72000, "lower_price": 56000, "grids_quantity": 50, "quantity_per_grid": 15,
    "order_currency_type": "quote", "profit_currency_type": "quote",
    "trailing_down_enabled": True, "expansion_up_enabled": True, "expansion_up_stop_price": 80000,
}
error, grid = client.request(entity="grid_bots", action="manual", payload=grid_request)
check(not error, f"grid create: {error}")
check(len(grid) == 48, f"48 keys: {sorted(grid)}")
check(grid["grids_quantity"] == "50" and grid["quantity_per_grid"] == "15.0", f"strings: {grid}")
check(grid["trailing_up_enabled"] == "false" and grid["is_enabled"] is False, f"string booleans: {grid}")
check(grid["grid_price_step"].startswith("326.5306122448979591836734693"), grid["grid_price_step"])
check(not any(k in grid for k in ("trailing_down_enabled", "expansion_up_enabled", "expansion_up_stop_price")),
      "write-only fields are never shown")
grid_id = str(grid["id"])
error, _ = client.request(entity="grid_bots", action="manual", payload=dict(grid_request, upper_price=50000))
check(error and error.get("status_code") == 400 and "Upper price should be at least" in json.dumps(error),
      f"an upside-down range is refused: {error}")
update = {"name": "py3cw grid", "upper_price": 72000, "lower_price": 56000, "grids_quantity": 50,
          "quantity_per_grid": 20}
error, grid = client.request(entity="grid_bots", action="manual_update", action_id=grid_id, payload=update)
check(not error and grid["quantity_per_grid"] == "20.0", f"grid update: {error} {grid}")
error, _ = client.request(entity="grid_bots", action="manual_update", action_id=grid_id,
                          payload=dict(update, pair="USDT_ETH"))
check(error and error.get("status_code") == 400, f"the pair cannot change: {error}")
no_name = {k: v for k, v in update.items() if k != "name"}
error, _ = client.request(entity="grid_bots", action="manual_update", action_id=grid_id, payload=no_name)
check(error and error.get("status_code") == 400 and "name" in json.dumps(error), f"name is required: {error}")
error, grid = client.request(entity="grid_bots", action="enable", action_id=grid_id)
check(not error and grid["is_enabled"] is True, f"grid enable: {error}")
error, needs = client.request(entity="grid_bots", action="required_balances", action_id=grid_id)
check(not error and set(needs) >= {"missing_balance", "required_balance", "need_balancing", "balancing_available"},
      f"required balances: {error} {needs}")
error, profits = client.request(entity="grid_bots", action="profits", action_id=grid_id)
check(not error and profits == [], f"grid profits (none yet: no market): {error} {profits}")
error, orders = client.request(entity="grid_bots", action="market_orders", action_id=grid_id)
check(not error and set(orders) == {"grid_lines_orders", "balancing_orders"}, f"grid market orders: {error} {orders}")
error, grids = client.request(entity="grid_bots", action="", payload={"state": "enabled"})
check(not error and [str(g["id"]) for g in grids] == [grid_id], f"grid list: {error} {grids}")
error, _ = client.request(entity="grid_bots", action="ai_settings", payload={"pair": "USDT_BTC", "market_code": "binance"})
check(error and error.get("status_code") == 404, f"the removed AI endpoints answer 404: {error}")
error, _ = client.request(entity="grid_bots", action="delete", action_id=grid_id)
check(not error, f"grid delete: {error}")
error, _ = client.request(entity="grid_bots", action="get", action_id=grid_id)
check(error and error.get("status_code") == 404, f"a deleted grid bot is gone: {error}")

wrong = Py3CW(key=key, secret="wrong-secret", request_options={"nr_of_retries": 0})
error, _ = wrong.request(entity="accounts", action="")
check(error and error.get("status_code") == 401, f"a wrong secret gets 401: {error}")
check("signature_invalid" in error.get("msg", ""), f"with signature_invalid: {error}")

print("py3cw: all checks passed")
