//! The closed sets of values 3Commas accepts for DCA and grid bot settings, spelt as 3Commas spells them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Deal direction ("Direction" in the 3Commas UI; the API calls it `strategy`).
    Direction { Long = "long", Short = "short" }
);

wire_enum!(
    /// The currency or unit an order volume is given in.
    VolumeType {
        /// In the quote currency (USDT for USDT_BTC).
        QuoteCurrency = "quote_currency",
        /// In the base currency (BTC for USDT_BTC).
        BaseCurrency = "base_currency",
        /// A percentage of the available balance.
        Percent = "percent",
    }
);

wire_enum!(
    /// What the take-profit percentage is measured against.
    TakeProfitType {
        /// Against the base order only.
        Base = "base",
        /// Against the whole position (base and filled safety orders).
        Total = "total",
    }
);

wire_enum!(
    /// What `min_profit_percentage` is measured against.
    MinProfitType {
        BaseOrderVolume = "base_order_volume",
        TotalBoughtVolume = "total_bought_volume",
    }
);

wire_enum!(
    /// The currency profit is taken in.
    ProfitCurrency { QuoteCurrency = "quote_currency", BaseCurrency = "base_currency" }
);

wire_enum!(
    /// What happens when the stop loss triggers.
    StopLossType {
        /// Close the deal and keep the bot running.
        StopLoss = "stop_loss",
        /// Close the deal and disable the bot.
        StopLossAndDisableBot = "stop_loss_and_disable_bot",
    }
);

wire_enum!(
    /// Order type of the base order.
    StartOrderType { Limit = "limit", Market = "market" }
);

wire_enum!(
    /// Futures leverage mode.
    LeverageType {
        Cross = "cross",
        Isolated = "isolated",
        NotSpecified = "not_specified",
        /// Deprecated by 3Commas; stored as `isolated`.
        Custom = "custom",
    }
);

wire_enum!(
    /// 3Commas trading mode, sent as the `Forced-Mode` header.
    TradingMode { Paper = "paper", Real = "real" }
);

wire_enum!(
    /// How a grid bot spaces its lines (`grid_type`).
    GridType {
        /// The same price step between lines.
        Arithmetic = "arithmetic",
        /// The same ratio between lines.
        Geometric = "geometric",
    }
);

wire_enum!(
    /// The currency a grid bot's per-line size (`order_currency_type`) or its profit
    /// (`profit_currency_type`) is in.
    GridCurrency { Base = "base", Quote = "quote" }
);

wire_enum!(
    /// What a grid bot's stop loss does when the price leaves the range.
    GridStopLossAction {
        /// Stop the bot, keep what it holds.
        StopBot = "stop_bot",
        /// Stop the bot and sell the base currency (lower stop loss, spot).
        StopBotAndSell = "stop_bot_and_sell",
        /// Stop the bot and buy the base currency (upper stop loss, spot).
        StopBotAndBuy = "stop_bot_and_buy",
        /// Stop the bot and close the position (futures).
        StopBotAndClosePosition = "stop_bot_and_close_position",
    }
);

wire_enum!(
    /// A futures grid bot's mode.
    GridMode { Long = "long", Short = "short", Reversal = "reversal" }
);
