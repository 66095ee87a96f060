//! Which bots a request means: the one selector every fleet-wide read and edit takes (the MCP
//! server's `list_bots`, `fleet_performance` and `set_fields`), resolved against the whole fleet.
//!
//! The fleet is the join of the live bots and the config's bots ([`Fleet::join`]): a live bot
//! with the config entry that describes it (by pinned id, else by name on its account), plus the
//! config's bots that are not live yet. A selector's fields are all optional and all must hold.
//! Pairs are 3Commas' `QUOTE_BASE`: `base = "BTC"` is a bot buying BTC (`USDT_BTC`), never one
//! quoting in it (`BTC_ETH`). The fleet is ordered by live id, then config-only bots by file
//! position: the stable order cursors page over.
//!
//! Grid bots are a fleet of their own ([`join_grids`], the same join), selected with
//! `kind = "grid"`; a selector without it selects DCA bots. One matcher serves both kinds
//! ([`Selectable`]), so a field means the same on each.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::engine::desired::WantedGrid;
use crate::engine::desired::{Desired, WantedBot};
use crate::model::bot::LiveBot;
use crate::threecommas::grid_wire::WireGridBot;
use crate::threecommas::wire::Account;

/// Which bots, live or in the config: every field given must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// `dca` or `grid`.
    #[serde(default)]
    pub kind: String,
    /// Alias, name or id.
    #[serde(default)]
    pub account: String,
    /// Coin bought (`BTC` in `USDT_BTC`).
    #[serde(default)]
    pub base: String,
    /// Quote coin (`USDT` in `USDT_BTC`).
    #[serde(default)]
    pub quote: String,
    /// One of its pairs (`USDT_BTC`).
    #[serde(default)]
    pub pair: String,
    /// A template in its chain.
    #[serde(default)]
    pub template: String,
    /// Name, any case, `*` `?` wildcards (else: contains).
    #[serde(default)]
    pub name_matches: String,
    #[serde(default)]
    #[schemars(with = "bool")]
    pub multi_pair: Option<bool>,
    /// Switched on.
    #[serde(default)]
    #[schemars(with = "bool")]
    pub enabled: Option<bool>,
    /// managed, unmanaged (live only) or new (config only).
    #[serde(default)]
    pub status: String,
}

/// A bot of the fleet: live, described by the config, or both.
#[derive(Debug, Clone, Copy)]
pub struct FleetBot<'a> {
    pub live: Option<&'a LiveBot>,
    pub wanted: Option<&'a WantedBot>,
    /// The live account (for a config-only bot, the one its alias names, when live).
    pub account: Option<&'a Account>,
    /// The config's alias of that account; empty when the config names none.
    pub alias: &'a str,
}

/// What a selector reads of a bot, of any kind.
pub trait Selectable {
    fn alias(&self) -> &str;
    fn account(&self) -> Option<&Account>;
    fn name(&self) -> &str;
    fn pairs(&self) -> &[String];
    /// The template chain of its config entry (empty when the config does not describe it).
    fn templates(&self) -> &[String];
    fn enabled(&self) -> bool;
    fn status(&self) -> &'static str;
}

/// `managed`, `unmanaged` or `new`, from whether a bot is live and whether the config has it.
fn status_of(live: bool, described: bool) -> &'static str {
    match (live, described) {
        (true, true) => "managed",
        (true, false) => "unmanaged",
        _ => "new",
    }
}

impl Selectable for FleetBot<'_> {
    fn alias(&self) -> &str {
        self.alias
    }
    fn account(&self) -> Option<&Account> {
        self.account
    }
    fn name(&self) -> &str {
        FleetBot::name(self)
    }
    fn pairs(&self) -> &[String] {
        FleetBot::pairs(self)
    }
    fn templates(&self) -> &[String] {
        self.wanted.map_or(&[], |w| &w.templates[..])
    }
    fn enabled(&self) -> bool {
        FleetBot::enabled(self)
    }
    fn status(&self) -> &'static str {
        FleetBot::status(self)
    }
}

/// A grid bot of the fleet: live, described by the config, or both.
#[derive(Debug, Clone, Copy)]
pub struct FleetGrid<'a> {
    pub live: Option<&'a WireGridBot>,
    pub wanted: Option<&'a WantedGrid>,
    pub account: Option<&'a Account>,
    pub alias: &'a str,
}

impl Selectable for FleetGrid<'_> {
    fn alias(&self) -> &str {
        self.alias
    }
    fn account(&self) -> Option<&Account> {
        self.account
    }
    fn name(&self) -> &str {
        self.live
            .map(|g| g.name.as_str())
            .or_else(|| self.wanted.map(|w| w.name.as_str()))
            .unwrap_or("")
    }
    fn pairs(&self) -> &[String] {
        self.live
            .map(|g| std::slice::from_ref(&g.pair))
            .or_else(|| self.wanted.map(|w| std::slice::from_ref(&w.pair)))
            .unwrap_or(&[])
    }
    fn templates(&self) -> &[String] {
        self.wanted.map_or(&[], |w| &w.templates[..])
    }
    fn enabled(&self) -> bool {
        match self.live {
            Some(g) => g.is_enabled,
            None => self.wanted.and_then(|w| w.enabled).unwrap_or(false),
        }
    }
    fn status(&self) -> &'static str {
        status_of(self.live.is_some(), self.wanted.is_some())
    }
}

/// The config's alias of a live account; empty when the config names none.
fn alias_of<'a>(desired: &'a Desired, account: &Account) -> &'a str {
    desired
        .accounts
        .values()
        .find(|a| a.spec.id == Some(account.id) || a.spec.name.as_deref() == Some(&account.name))
        .map_or("", |a| a.alias.as_str())
}

/// The live account a config alias names.
fn account_of_alias<'a>(
    desired: &Desired,
    accounts: &'a [Account],
    alias: &str,
) -> Option<&'a Account> {
    let spec = &desired.accounts.get(alias)?.spec;
    accounts
        .iter()
        .find(|a| spec.id == Some(a.id) || spec.name.as_deref() == Some(&a.name))
}

/// Join the live grid bots and the config's, as [`Fleet::join`] joins DCA bots (pinned id, else
/// name on its account; `absent` entries are not part of the fleet), in the same order.
pub fn join_grids<'a>(
    live: &'a [WireGridBot],
    desired: &'a Desired,
    accounts: &'a [Account],
) -> Vec<FleetGrid<'a>> {
    let mut described = vec![false; desired.grid_bots.len()];
    let mut ordered: Vec<&WireGridBot> = live.iter().collect();
    ordered.sort_by_key(|g| g.id);
    let mut grids: Vec<FleetGrid<'a>> = ordered
        .into_iter()
        .map(|g| {
            let account = accounts.iter().find(|a| a.id == g.account_id);
            let alias = account.map_or("", |a| alias_of(desired, a));
            let found = desired
                .grid_bots
                .iter()
                .position(|w| w.pinned_id == Some(g.id))
                .or_else(|| {
                    desired.grid_bots.iter().position(|w| {
                        w.pinned_id.is_none()
                            && w.name == g.name
                            && !alias.is_empty()
                            && w.account == alias
                    })
                });
            if let Some(i) = found {
                described[i] = true;
            }
            FleetGrid {
                live: Some(g),
                wanted: found.map(|i| &desired.grid_bots[i]).filter(|w| !w.absent),
                account,
                alias,
            }
        })
        .collect();
    grids.extend(
        desired
            .grid_bots
            .iter()
            .zip(described)
            .filter(|(w, described)| !described && !w.absent)
            .map(|(w, _)| FleetGrid {
                live: None,
                wanted: Some(w),
                account: account_of_alias(desired, accounts, &w.account),
                alias: w.account.as_str(),
            }),
    );
    grids
}

/// The grid bots a selector selects (`kind = "grid"`; any other kind selects none of them).
pub fn select_grids<'a>(
    grids: &[FleetGrid<'a>],
    selector: &Selector,
) -> Result<Vec<FleetGrid<'a>>, String> {
    let check = selector.checked()?;
    if !selector.is_grid() {
        return Ok(Vec::new());
    }
    Ok(grids
        .iter()
        .filter(|g| check.matches(*g))
        .copied()
        .collect())
}

impl FleetBot<'_> {
    pub fn name(&self) -> &str {
        self.live
            .and_then(|b| b.settings.name.as_deref())
            .or_else(|| self.wanted.and_then(|w| w.name.as_deref()))
            .unwrap_or("")
    }

    pub fn id(&self) -> Option<i64> {
        self.live.map(|b| b.id)
    }

    /// Its pairs: the live ones, else what the config asks.
    pub fn pairs(&self) -> &[String] {
        self.live
            .and_then(|b| b.settings.pairs.as_deref())
            .or_else(|| self.wanted.and_then(|w| w.settings.pairs.as_deref()))
            .unwrap_or(&[])
    }

    pub fn enabled(&self) -> bool {
        match self.live {
            Some(b) => b.is_enabled,
            None => self.wanted.and_then(|w| w.enabled).unwrap_or(false),
        }
    }

    /// `managed`, `unmanaged` or `new` (see [`Selector::status`]).
    pub fn status(&self) -> &'static str {
        status_of(self.live.is_some(), self.wanted.is_some())
    }
}

/// The live bots and the config's, joined (see the module docs).
#[derive(Debug, Default)]
pub struct Fleet<'a> {
    pub bots: Vec<FleetBot<'a>>,
}

impl<'a> Fleet<'a> {
    /// Join `live` and the config's bots; `accounts` are the live accounts. A config bot marked
    /// `absent` is not part of the fleet (it is the live bot's, if any, to show).
    pub fn join(live: &'a [LiveBot], desired: &'a Desired, accounts: &'a [Account]) -> Fleet<'a> {
        let mut described = vec![false; desired.bots.len()];
        let mut ordered: Vec<&LiveBot> = live.iter().collect();
        ordered.sort_by_key(|b| b.id);
        let mut bots: Vec<FleetBot<'a>> = ordered
            .into_iter()
            .map(|b| {
                let account = accounts.iter().find(|a| a.id == b.account_id);
                let alias = account.map_or("", |a| alias_of(desired, a));
                let found = desired
                    .bots
                    .iter()
                    .position(|w| w.pinned_id == Some(b.id))
                    .or_else(|| {
                        desired.bots.iter().position(|w| {
                            w.pinned_id.is_none()
                                && w.name.is_some()
                                && w.name == b.settings.name
                                && !alias.is_empty()
                                && w.account == alias
                        })
                    });
                if let Some(i) = found {
                    described[i] = true;
                }
                FleetBot {
                    live: Some(b),
                    wanted: found.map(|i| &desired.bots[i]).filter(|w| !w.absent),
                    account,
                    alias,
                }
            })
            .collect();
        bots.extend(
            desired
                .bots
                .iter()
                .zip(described)
                .filter(|(w, described)| !described && !w.absent)
                .map(|(w, _)| FleetBot {
                    live: None,
                    wanted: Some(w),
                    account: account_of_alias(desired, accounts, &w.account),
                    alias: w.account.as_str(),
                }),
        );
        Fleet { bots }
    }

    /// The bots a selector selects, in the fleet's order; an error names a field it cannot use.
    pub fn select(&self, selector: &Selector) -> Result<Vec<FleetBot<'a>>, String> {
        let check = selector.checked()?;
        if selector.is_grid() {
            return Ok(Vec::new());
        }
        Ok(self
            .bots
            .iter()
            .filter(|b| check.matches(*b))
            .copied()
            .collect())
    }
}

/// A selector with its texts normalised once, to test every bot against.
struct Checked<'s> {
    selector: &'s Selector,
    account: String,
    base: String,
    quote: String,
    pair: String,
    name: Vec<char>,
    glob: bool,
}

impl Selector {
    fn checked(&self) -> Result<Checked<'_>, String> {
        let quoted = |t: &str| crate::diagnostic::quote_input(t);
        match self.kind.to_ascii_lowercase().as_str() {
            "" | "dca" | "grid" => {}
            other => {
                return Err(format!(
                    "selector kind `{}`: use `dca` (default) or `grid`",
                    quoted(other)
                ));
            }
        }
        match self.status.to_ascii_lowercase().as_str() {
            "" | "managed" | "unmanaged" | "new" => {}
            other => {
                return Err(format!(
                    "selector status `{}`: use `managed`, `unmanaged` or `new`",
                    quoted(other)
                ));
            }
        }
        if !self.pair.is_empty() && !self.pair.contains('_') {
            return Err(format!(
                "selector pair `{}`: pairs are QUOTE_BASE (`USDT_BTC`); for a coin use `base` or `quote`",
                quoted(&self.pair)
            ));
        }
        let name = self.name_matches.to_lowercase();
        Ok(Checked {
            selector: self,
            account: self.account.trim().to_lowercase(),
            base: self.base.trim().to_ascii_uppercase(),
            quote: self.quote.trim().to_ascii_uppercase(),
            pair: self.pair.trim().to_ascii_uppercase(),
            glob: name.contains(['*', '?']),
            name: name.chars().collect(),
        })
    }

    /// True when it selects grid bots (`kind = "grid"`).
    pub fn is_grid(&self) -> bool {
        self.kind.trim().eq_ignore_ascii_case("grid")
    }

    /// True when no field is set: the whole fleet.
    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
            && self.account.is_empty()
            && self.base.is_empty()
            && self.quote.is_empty()
            && self.pair.is_empty()
            && self.template.is_empty()
            && self.name_matches.is_empty()
            && self.multi_pair.is_none()
            && self.enabled.is_none()
            && self.status.is_empty()
    }
}

impl Checked<'_> {
    fn matches(&self, bot: &impl Selectable) -> bool {
        let s = self.selector;
        let pairs = bot.pairs();
        let split = |p: &str| {
            p.split_once('_')
                .map(|(q, b)| (q.to_string(), b.to_string()))
        };
        (self.account.is_empty()
            || bot.alias().to_lowercase() == self.account
            || bot.account().is_some_and(|a| {
                a.name.to_lowercase() == self.account || a.id.to_string() == self.account
            }))
            && (self.base.is_empty()
                || pairs
                    .iter()
                    .filter_map(|p| split(p))
                    .any(|(_, b)| b == self.base))
            && (self.quote.is_empty()
                || pairs
                    .iter()
                    .filter_map(|p| split(p))
                    .any(|(q, _)| q == self.quote))
            && (self.pair.is_empty() || pairs.contains(&self.pair))
            && (s.template.is_empty() || bot.templates().iter().any(|t| t == &s.template))
            && (self.name.is_empty() || self.name_holds(bot.name()))
            && s.multi_pair.is_none_or(|multi| (pairs.len() > 1) == multi)
            && s.enabled.is_none_or(|on| bot.enabled() == on)
            && (s.status.is_empty() || bot.status().eq_ignore_ascii_case(&s.status))
    }

    fn name_holds(&self, name: &str) -> bool {
        let name: Vec<char> = name.to_lowercase().chars().collect();
        if self.glob {
            glob(&self.name, &name)
        } else {
            name.windows(self.name.len())
                .any(|w| w == self.name.as_slice())
        }
    }
}

/// `*` and `?` wildcards over the whole text, in time linear in the product of the lengths at
/// worst (no backtracking blow-up on hostile patterns).
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Names of a selection for an answer: up to `limit`, and how many were left out.
pub fn names_of(selected: &[FleetBot], limit: usize) -> (Vec<String>, usize) {
    let names: Vec<String> = selected
        .iter()
        .take(limit)
        .map(|b| b.name().chars().take(200).collect())
        .collect();
    let left_out = selected.len() - names.len();
    (names, left_out)
}

/// Selected config bots grouped by account alias: what an edit of the selection touches.
pub fn config_bots_by_account<'a>(selected: &[FleetBot<'a>]) -> BTreeMap<String, Vec<String>> {
    let mut by_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for bot in selected {
        if let Some(w) = bot.wanted
            && let Some(name) = &w.name
        {
            by_account
                .entry(w.account.clone())
                .or_default()
                .push(name.clone());
        }
    }
    by_account
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_str(p: &str, t: &str) -> bool {
        glob(
            &p.chars().collect::<Vec<_>>(),
            &t.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn globs_match_the_whole_name() {
        assert!(glob_str("btc*", "btc long 3"));
        assert!(glob_str("*long*", "btc long 3"));
        assert!(glob_str("btc long ?", "btc long 3"));
        assert!(!glob_str("btc", "btc long"));
        assert!(!glob_str("*short*", "btc long 3"));
        assert!(glob_str("*", ""));
        // A hostile pattern ends quickly.
        let text: String = "a".repeat(5_000);
        assert!(!glob_str(&format!("{}b", "*a".repeat(200)), &text));
    }

    #[test]
    fn a_selector_names_the_field_it_cannot_use() {
        let bad = Selector {
            pair: "BTC".into(),
            ..Selector::default()
        };
        assert!(
            bad.checked()
                .err()
                .unwrap()
                .contains("use `base` or `quote`")
        );
        let bad = Selector {
            status: "paused".into(),
            ..Selector::default()
        };
        assert!(bad.checked().err().unwrap().contains("managed"));
        assert!(Selector::default().is_empty());
    }

    fn live(id: i64, name: &str, pairs: &[&str], enabled: bool) -> LiveBot {
        serde_json::from_value(serde_json::json!({
            "id": id, "account_id": 1, "account_name": "Binance Spot", "is_enabled": enabled,
            "active_deals_count": 0, "deletable": true, "created_at": "", "updated_at": "",
            "settings": { "name": name, "pairs": pairs },
        }))
        .unwrap()
    }

    #[test]
    fn base_is_not_quote_and_config_only_bots_come_last() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bots.toml"),
            r#"[accounts.main]
name = "Binance Spot"

[templates.base]
start = [{ strategy = "nonstop" }]
base_order_volume = 10
safety_order_volume = 20
safety_order_step_percentage = 1
max_safety_orders = 3
active_safety_orders_count = 1
martingale_volume_coefficient = 1
martingale_step_coefficient = 1
take_profit = 1.5
take_profit_type = "total"

[templates.btc]
template = "base"

[[bots]]
name = "BTC long"
account = "main"
template = "btc"
pairs = ["USDT_BTC"]

[[bots]]
name = "ETH in BTC"
account = "main"
template = "base"
pairs = ["BTC_ETH"]

[[bots]]
name = "not yet"
account = "main"
template = "base"
pairs = ["USDT_BTC", "USDT_SOL"]
start = [{ strategy = "manual" }]
enabled = true
"#,
        )
        .unwrap();
        let checked = crate::config::check_confined(dir.path());
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let desired = crate::engine::desired::from_checked(&checked);
        let accounts: Vec<Account> = serde_json::from_value(serde_json::json!([
            { "id": 1, "name": "Binance Spot", "market_code": "binance" }
        ]))
        .unwrap();
        let bots = vec![
            live(20, "ETH in BTC", &["BTC_ETH"], false),
            live(10, "BTC long", &["USDT_BTC"], true),
            live(30, "web app bot", &["USDT_BTC"], true),
        ];
        let fleet = Fleet::join(&bots, &desired, &accounts);
        let names = |s: Selector| -> Vec<String> {
            fleet
                .select(&s)
                .unwrap()
                .iter()
                .map(|b| b.name().to_string())
                .collect()
        };
        assert_eq!(
            names(Selector::default()),
            ["BTC long", "ETH in BTC", "web app bot", "not yet"]
        );
        let base = Selector {
            base: "btc".into(),
            ..Selector::default()
        };
        assert_eq!(names(base), ["BTC long", "web app bot", "not yet"]);
        let quote = Selector {
            quote: "BTC".into(),
            ..Selector::default()
        };
        assert_eq!(names(quote), ["ETH in BTC"]);
        let direct = Selector {
            template: "btc".into(),
            ..Selector::default()
        };
        assert_eq!(names(direct), ["BTC long"]);
        let through_chain = Selector {
            template: "base".into(),
            ..Selector::default()
        };
        assert_eq!(names(through_chain), ["BTC long", "ETH in BTC", "not yet"]);
        let unmanaged = Selector {
            status: "unmanaged".into(),
            ..Selector::default()
        };
        assert_eq!(names(unmanaged), ["web app bot"]);
        let new_and_on = Selector {
            status: "new".into(),
            enabled: Some(true),
            multi_pair: Some(true),
            account: "MAIN".into(),
            ..Selector::default()
        };
        assert_eq!(names(new_and_on), ["not yet"]);
        let glob = Selector {
            name_matches: "*LONG".into(),
            ..Selector::default()
        };
        assert_eq!(names(glob), ["BTC long"]);
    }
}
