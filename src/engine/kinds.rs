//! The kinds of 3Commas object botform manages, and what each layer needs to know of a kind
//! before its own room: the fields 3Commas never shows back, the settings a grid bot shows. Each
//! kind has a room per layer (DCA bots: `plan`/`apply`; grid bots: [`super::grid`]); the plan,
//! the safety rails, the lease, the journal and the memory are shared.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostic::shown;

/// DCA settings 3Commas accepts but never shows back: compared with what botform last sent
/// (see [`super::memory`]), never with the live bot.
pub const DCA_WRITE_ONLY_FIELDS: &[&str] = &["sl_to_breakeven_enabled", "sl_to_breakeven_data"];

/// Grid settings 3Commas accepts and never shows back (GRID-SIGNALS-DEALS §1.3).
pub const GRID_WRITE_ONLY_FIELDS: &[&str] = &[
    "trailing_down_enabled",
    "expansion_up_enabled",
    "expansion_up_stop_price",
];

/// The settings a grid bot shows and takes on create and update, by 3Commas' names (identity,
/// `pair` and state apart).
pub const GRID_SETTINGS: &[&str] = &[
    "lower_price",
    "upper_price",
    "grids_quantity",
    "quantity_per_grid",
    "grid_type",
    "order_currency_type",
    "profit_currency_type",
    "max_active_buy_lines",
    "max_active_sell_lines",
    "upper_stop_loss_enabled",
    "upper_stop_loss_price",
    "upper_stop_loss_action",
    "lower_stop_loss_enabled",
    "lower_stop_loss_price",
    "lower_stop_loss_action",
    "trailing_up_enabled",
    "expansion_down_enabled",
    "expansion_down_stop_price",
    "leverage_type",
    "leverage_custom_value",
    "mode",
    "note",
];

/// The kind of 3Commas object a change acts on.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A DCA bot (and the account-wide blacklist, whose changes say `update_blacklist`).
    #[default]
    DcaBot,
    GridBot,
}

impl ResourceKind {
    pub fn is_dca_bot(&self) -> bool {
        *self == ResourceKind::DcaBot
    }

    /// The fields of this kind that 3Commas accepts and never shows back.
    pub fn write_only_fields(self) -> &'static [&'static str] {
        match self {
            ResourceKind::DcaBot => DCA_WRITE_ONLY_FIELDS,
            ResourceKind::GridBot => GRID_WRITE_ONLY_FIELDS,
        }
    }

    /// How a plan names one object of this kind: `bot "BTC" on main`.
    pub fn address(self, name: &str, account: &str) -> String {
        let noun = match self {
            ResourceKind::DcaBot => "bot",
            ResourceKind::GridBot => "grid bot",
        };
        format!("{noun} \"{}\" on {}", shown(name), shown(account))
    }
}
