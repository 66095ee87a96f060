"""Drive a botform sandbox with py3cw, the most used third-party Python 3Commas client.

Usage: python3 py3cw_compat.py BASE_URL API_KEY API_SECRET
Exits non-zero with a message on the first difference from what 3Commas would answer.
"""
import sys

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

error, deleted = client.request(entity="bots", action="delete", action_id=bot_id)
check(not error and deleted is True, f"delete answers true: {error} {deleted!r}")
error, gone = client.request(entity="bots", action="show", action_id=bot_id)
check(error and error.get("status_code") == 404, f"deleted bot is gone: {error}")

wrong = Py3CW(key=key, secret="wrong-secret", request_options={"nr_of_retries": 0})
error, _ = wrong.request(entity="accounts", action="")
check(error and error.get("status_code") == 401, f"a wrong secret gets 401: {error}")
check("signature_invalid" in error.get("msg", ""), f"with signature_invalid: {error}")

print("py3cw: all checks passed")
