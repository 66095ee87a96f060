//! TradingView alert messages for bots that start deals (or place safety orders) on
//! `tv_custom_signal`: what a trader pastes into a TradingView alert, with the live bot id read
//! from 3Commas and the email token from the environment.
//!
//! The webhook is not part of 3Commas' documented API. The message shape is what several
//! independent clients agree on (`GRID-SIGNALS-DEALS.md` §2.4): `message_type: "bot"`, `bot_id`,
//! `email_token`, `delay_seconds`, `pair` (3Commas' `QUOTE_BASE`) on multi-pair bots, and
//! `action` (`close_at_market_price`, confirmed by 3Commas staff; `add_funds_in_quote` with
//! `volume`, seen only in client code). The README says which parts are not confirmed.
//!
//! The email token is a secret like the API secret: from `THREECOMMAS_EMAIL_TOKEN` or the file
//! named by `THREECOMMAS_EMAIL_TOKEN_FILE`, never from config. Messages carry it only where they
//! are printed for the person to paste; [`BotSignals::masked`] hides it everywhere else (MCP).

use serde::Serialize;
use serde_json::{Value, json};

use super::desired::WantedBot;
use crate::model::bot::BotSettings;

/// The webhook's path on 3Commas (and on the sandbox).
pub const WEBHOOK_PATH: &str = "/trade_signal/trading_view";

/// The webhook on 3Commas: the `app.` host the newer clients use.
pub const THREECOMMAS_WEBHOOK: &str = "https://app.3commas.io/trade_signal/trading_view";

/// What stands in a message for a token botform does not have (or does not show).
pub const TOKEN_PLACEHOLDER: &str =
    "<email token: set THREECOMMAS_EMAIL_TOKEN or THREECOMMAS_EMAIL_TOKEN_FILE>";

/// What stands for the token in answers that must not carry it.
pub const TOKEN_MASK: &str = "<email token, masked>";

/// 3Commas' `QUOTE_BASE` pair from TradingView's placeholders (`{{syminfo.currency}}` is the
/// quote currency, `{{syminfo.basecurrency}}` the base: `USDT_BTC` on BTCUSDT).
pub const PAIR_PLACEHOLDER: &str = "{{syminfo.currency}}_{{syminfo.basecurrency}}";

/// The TradingView email token, if the environment gives one.
pub fn email_token() -> Result<Option<String>, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(token) = var("THREECOMMAS_EMAIL_TOKEN") {
        return Ok(Some(token.trim().to_string()));
    }
    let Some(path) = var("THREECOMMAS_EMAIL_TOKEN_FILE") else {
        return Ok(None);
    };
    let text = crate::files::read_bounded(std::path::Path::new(&path), 4096)
        .map_err(|e| format!("THREECOMMAS_EMAIL_TOKEN_FILE: {e}"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("THREECOMMAS_EMAIL_TOKEN_FILE ({path}) is empty"));
    }
    Ok(Some(token.to_string()))
}

/// One alert message.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Message {
    /// `start`, `close_at_market_price`, `add_funds_in_quote`.
    pub purpose: String,
    /// What it does, in a sentence.
    pub what: String,
    /// The JSON to paste into the alert's message box.
    pub message: Value,
}

/// A bot's alerts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BotSignals {
    pub bot: String,
    pub account: String,
    /// The live bot's id; `None` until the bot exists on 3Commas.
    pub bot_id: Option<i64>,
    /// `deal start`, `safety orders`, or both: what the bot takes from TradingView.
    pub on_signal: Vec<String>,
    pub pairs: Vec<String>,
    pub webhook_url: String,
    /// What to do first, if anything (`apply first`), and where the token comes from.
    pub notes: Vec<String>,
    pub messages: Vec<Message>,
}

impl BotSignals {
    /// The same alerts with the token masked (for MCP answers, logs).
    pub fn masked(mut self, token: Option<&str>) -> BotSignals {
        for m in &mut self.messages {
            if let Some(t) = token
                && m.message["email_token"].as_str() == Some(t)
            {
                m.message["email_token"] = TOKEN_MASK.into();
            }
        }
        self
    }
}

/// Does the bot take anything from TradingView custom signals?
pub fn signal_uses(settings: &BotSettings) -> Vec<String> {
    let on = |list: &Option<Vec<crate::model::bot::StrategyCondition>>| {
        list.as_ref()
            .is_some_and(|l| l.iter().any(|c| c.strategy == "tv_custom_signal"))
    };
    let mut uses = Vec::new();
    if on(&settings.strategy_list) {
        uses.push("deal start".to_string());
    }
    if on(&settings.safety_strategy_list) {
        uses.push("safety orders".to_string());
    }
    uses
}

/// The webhook URL for an API base URL: 3Commas' app host for 3Commas' API, else the same
/// server (the sandbox serves the webhook beside the API).
pub fn webhook_url(api_base_url: &str) -> String {
    if let Ok(url) = std::env::var("THREECOMMAS_WEBHOOK_URL")
        && !url.trim().is_empty()
    {
        return url.trim().to_string();
    }
    match url::Url::parse(api_base_url) {
        Ok(url) if url.host_str() == Some("api.3commas.io") => THREECOMMAS_WEBHOOK.to_string(),
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_path(WEBHOOK_PATH);
            url.set_query(None);
            url.to_string()
        }
        Err(_) => THREECOMMAS_WEBHOOK.to_string(),
    }
}

/// The alerts of one config bot; `None` when it takes nothing from TradingView.
pub fn for_bot(
    wanted: &WantedBot,
    live_id: Option<i64>,
    live_settings: Option<&BotSettings>,
    token: Option<&str>,
    webhook_url: &str,
) -> Option<BotSignals> {
    let settings = &wanted.settings;
    let uses = signal_uses(settings);
    if uses.is_empty() {
        return None;
    }
    let name = wanted.name.clone().unwrap_or_default();
    let pairs = settings.pairs.clone().unwrap_or_default();
    let multi = pairs.len() > 1;
    let mut notes = Vec::new();
    if live_id.is_none() {
        notes.push(format!(
            "bot \"{name}\" does not exist on 3Commas yet: apply first (`botform apply`), then run `botform signals` again for its bot_id"
        ));
    } else if live_settings.is_some_and(|live| signal_uses(live) != uses) {
        notes.push(format!(
            "the live bot does not take {} from TradingView yet: apply first",
            uses.join(" and ")
        ));
    }
    if token.is_none() {
        notes.push(
            "no email token: set THREECOMMAS_EMAIL_TOKEN (or THREECOMMAS_EMAIL_TOKEN_FILE) to the token 3Commas shows in the bot's TradingView form; it is a secret, never put it in config"
                .into(),
        );
    }
    if multi {
        notes.push(format!(
            "multi-pair bot: `pair` is 3Commas' QUOTE_BASE; {PAIR_PLACEHOLDER} fills it from the alert's symbol (BTCUSDT gives USDT_BTC); the bot's pairs: {}",
            pairs.join(", ")
        ));
    }
    let base = |action: Option<&str>| {
        let mut m = json!({
            "message_type": "bot",
            "bot_id": live_id.map_or(Value::String("<bot id: apply first>".into()), Value::from),
            "email_token": token.unwrap_or(TOKEN_PLACEHOLDER),
            "delay_seconds": 0,
        });
        if multi {
            m["pair"] = PAIR_PLACEHOLDER.into();
        } else if let Some(pair) = pairs.first() {
            m["pair"] = pair.clone().into();
        }
        if let Some(a) = action {
            m["action"] = a.into();
        }
        m
    };
    let mut messages = Vec::new();
    if uses.iter().any(|u| u == "deal start") {
        messages.push(Message {
            purpose: "start".into(),
            what: if multi {
                "start a deal on the alert's pair".into()
            } else {
                format!(
                    "start a deal on {}",
                    pairs.first().map_or("", String::as_str)
                )
            },
            message: base(None),
        });
    }
    messages.push(Message {
        purpose: "close_at_market_price".into(),
        what: "close the pair's active deal at market (3Commas' panic sell)".into(),
        message: base(Some("close_at_market_price")),
    });
    let volume = settings
        .safety_order_volume
        .or(settings.base_order_volume)
        .map_or("10".to_string(), |v| v.to_string());
    let mut add = base(Some("add_funds_in_quote"));
    add["volume"] = volume.clone().into();
    messages.push(Message {
        purpose: "add_funds_in_quote".into(),
        what: format!(
            "add {volume} of the quote currency to the pair's active deal at market (not confirmed by 3Commas' docs)"
        ),
        message: add,
    });
    Some(BotSignals {
        bot: name,
        account: wanted.account.clone(),
        bot_id: live_id,
        on_signal: uses,
        pairs,
        webhook_url: webhook_url.to_string(),
        notes,
        messages,
    })
}

/// The alerts of every config bot that takes signals (or only `bot`, by name in any case),
/// matched to live bots as a plan matches them.
pub fn for_config(
    desired: &super::desired::Desired,
    live: &super::plan::LiveState,
    bot: Option<&str>,
    token: Option<&str>,
    webhook_url: &str,
) -> Result<Vec<BotSignals>, String> {
    let ids = super::plan::live_bot_ids(desired, live);
    let mut found = false;
    let mut all = Vec::new();
    for (wanted, id) in desired.bots.iter().zip(ids) {
        if wanted.absent {
            continue;
        }
        if let Some(name) = bot
            && !wanted
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name.trim()))
        {
            continue;
        }
        found = true;
        let live_settings = id.and_then(|id| live.bots.iter().find(|b| b.id == id));
        if let Some(signals) = for_bot(
            wanted,
            id,
            live_settings.map(|b| &b.settings),
            token,
            webhook_url,
        ) {
            all.push(signals);
        }
    }
    match bot {
        Some(name) if !found => Err(format!(
            "no bot named \"{}\" in the config",
            crate::diagnostic::quote_input(name)
        )),
        Some(name) if all.is_empty() => Err(format!(
            "bot \"{}\" does not take TradingView custom signals (its strategy_list and safety_strategy_list have no `tv_custom_signal`)",
            crate::diagnostic::quote_input(name)
        )),
        _ => Ok(all),
    }
}

/// Read the config and the live bots, and give [`for_config`]'s alerts (for `botform signals`).
pub async fn read(
    paths: &[std::path::PathBuf],
    bot: Option<&str>,
    token: Option<&str>,
    connect: super::target::Connector,
) -> Result<Vec<BotSignals>, super::workflow::WorkflowError> {
    let (_, desired) = super::workflow::check(paths, &[])?;
    let target = connect(super::target::ConnectOptions {
        mode: desired.mode,
        rate_limit: desired.rate_limit,
    })
    .await?;
    let live = super::target::read_live(&target.client, false).await?;
    let url = webhook_url(target.client.base_url());
    for_config(&desired, &live, bot, token, &url).map_err(super::workflow::WorkflowError::Refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_is_3commas_app_host_for_3commas_and_the_same_server_elsewhere() {
        assert_eq!(webhook_url("https://api.3commas.io"), THREECOMMAS_WEBHOOK);
        assert_eq!(
            webhook_url("http://127.0.0.1:8413"),
            "http://127.0.0.1:8413/trade_signal/trading_view"
        );
    }
}
