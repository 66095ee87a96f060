//! The `trading` tool set: `signals` (a bot's TradingView alerts, the email token always masked),
//! `smart_trades` (the account's SmartTrades, read only) and `deal_action` (cancel, panic sell,
//! add funds, update a deal).
//!
//! `deal_action` is served only with `--allow-deal-actions`. It runs `engine::deals` as the CLI
//! does (preview, lease, poll to the final status, audit log), and only after the person
//! confirmed through elicitation: where the client cannot ask, it is refused, whatever the
//! server's other flags.

use rmcp::handler::server::tool::InputResponses;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::CallToolResponse;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::tools::{Confirmation, refuse, workflow_message};
use super::{BotformServer, budget};
use crate::engine::audit::Who;
use crate::engine::deals::{self, Action, DealUpdate, SmartTradeLine};
use crate::engine::signals::{self, BotSignals};
use crate::engine::workflow;
use crate::model::decimal::Decimal;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalsArgs {
    /// The bot's config name (any case); empty: every bot that takes TradingView signals.
    #[serde(default)]
    pub bot: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SignalsAnswer {
    pub bots: Vec<BotSignals>,
    pub note: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmartTradesArgs {
    /// `active`, `finished`, or empty for all.
    #[serde(default)]
    pub scope: String,
    /// Page, from 1 (25 a page).
    #[serde(default)]
    pub page: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SmartTradesAnswer {
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub smart_trades: Vec<SmartTradeLine>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DealActionArgs {
    /// The deal's id (from `deals`).
    pub deal: i64,
    /// `cancel` (3Commas stops managing the deal; coins stay, unsold), `panic_sell` (close at
    /// market now), `add_funds` (needs `quantity`; `price` for a limit order), `update` (any of
    /// `take_profit`, `max_safety_orders`, `stop_loss_percentage`).
    pub action: String,
    /// add_funds: base currency to buy (0.01 for 0.01 BTC on USDT_BTC), a decimal string.
    #[serde(default)]
    pub quantity: Option<Decimal>,
    /// add_funds: a limit price; none: at market.
    #[serde(default)]
    pub price: Option<Decimal>,
    /// update: the deal's new take profit, percent.
    #[serde(default)]
    pub take_profit: Option<Decimal>,
    /// update: the deal's new number of safety orders.
    #[serde(default)]
    pub max_safety_orders: Option<u32>,
    /// update: the deal's new stop loss, percent (0: none).
    #[serde(default)]
    pub stop_loss_percentage: Option<Decimal>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DealActionAnswer {
    /// What was asked of the person: the deal and what the action does.
    pub deal: String,
    pub effect: String,
    pub ran: bool,
    pub outcome: Option<deals::Outcome>,
}

/// SmartTrades per page of the `smart_trades` answer.
const SMART_TRADES_PER_PAGE: usize = 25;

fn action_of(args: &DealActionArgs) -> Result<Action, String> {
    Ok(match args.action.as_str() {
        "cancel" => Action::Cancel,
        "panic_sell" => Action::PanicSell,
        "add_funds" => Action::AddFunds {
            quantity: args
                .quantity
                .ok_or("add_funds needs `quantity` (base currency)")?,
            price: args.price,
        },
        "update" => Action::Update(DealUpdate {
            take_profit: args.take_profit,
            max_safety_orders: args.max_safety_orders,
            stop_loss_percentage: args.stop_loss_percentage,
        }),
        other => {
            return Err(format!(
                "action `{}`: use cancel, panic_sell, add_funds or update",
                crate::diagnostic::quote_input(other)
            ));
        }
    })
}

#[tool_router(router = trading_router, vis = "pub(super)")]
impl BotformServer {
    /// A bot's TradingView alert messages (start, close at market, add funds) with its live
    /// bot_id and the webhook URL. The email token is always masked here: the person pastes it
    /// from `botform signals` on their own machine.
    #[tool(
        title = "TradingView alerts of a bot",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn signals(
        &self,
        Parameters(args): Parameters<SignalsArgs>,
    ) -> Result<Json<SignalsAnswer>, String> {
        let (_, desired) = workflow::check_confined(&self.inner.root, &[])
            .map_err(|e| self.relativize(workflow_message(e)))?;
        let target = self.target().await?;
        let live = crate::engine::target::read_live(&target.client, false)
            .await
            .map_err(|e| e.to_string())?;
        let token = signals::email_token()?;
        let bot = (!args.bot.trim().is_empty()).then_some(args.bot.as_str());
        let url = signals::webhook_url(target.client.base_url());
        let mut bots: Vec<BotSignals> =
            signals::for_config(&desired, &live, bot, token.as_deref(), &url)?
                .into_iter()
                .map(|b| b.masked(token.as_deref()))
                .collect();
        budget::fit(&mut bots, budget::ANSWER_BUDGET - 2_000);
        Ok(Json(SignalsAnswer {
            bots,
            note: format!(
                "the email token is masked ({}); `botform signals` on the person's machine prints the messages whole, from THREECOMMAS_EMAIL_TOKEN",
                if token.is_some() {
                    "this server has one"
                } else {
                    "this server has none"
                }
            ),
        }))
    }

    /// The account's SmartTrades (v2, read only): pair, type, status and profit, 25 a page.
    #[tool(
        title = "SmartTrades",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn smart_trades(
        &self,
        Parameters(args): Parameters<SmartTradesArgs>,
    ) -> Result<Json<SmartTradesAnswer>, String> {
        let status = match args.scope.as_str() {
            "" | "all" => "all",
            s @ ("active" | "finished") => s,
            other => {
                return Err(format!(
                    "scope `{}`: use `active` or `finished`",
                    crate::diagnostic::quote_input(other)
                ));
            }
        };
        let target = self.target().await?;
        let trades = deals::read_smart_trades(&target.client, status)
            .await
            .map_err(|e| e.to_string())?;
        let lines: Vec<SmartTradeLine> = trades.iter().map(deals::smart_trade_line).collect();
        let total = lines.len();
        let pages = total.div_ceil(SMART_TRADES_PER_PAGE).max(1);
        let page = args.page.clamp(1, pages);
        let mut smart_trades: Vec<SmartTradeLine> = lines
            .into_iter()
            .skip((page - 1) * SMART_TRADES_PER_PAGE)
            .take(SMART_TRADES_PER_PAGE)
            .collect();
        budget::fit(&mut smart_trades, budget::ANSWER_BUDGET - 1_000);
        Ok(Json(SmartTradesAnswer {
            total,
            page,
            pages,
            smart_trades,
        }))
    }

    /// Act on a live deal: cancel, panic_sell, add_funds or update. The person confirms what it
    /// will do (the deal, its P&L now, the order it places) before anything is sent; every
    /// attempt is in botform's audit log.
    #[tool(
        title = "Act on a deal",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn deal_action(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<DealActionArgs>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, McpError> {
        let action = match action_of(&args) {
            Ok(a) => a,
            Err(e) => return Ok(refuse(e).into()),
        };
        let target = match self.target().await {
            Ok(t) => t,
            Err(e) => return Ok(refuse(e).into()),
        };
        let preview = match deals::preview(&target.client, args.deal, action).await {
            Ok(p) => p,
            Err(e) => return Ok(refuse(e.to_string()).into()),
        };
        let answer = |ran: bool, outcome: Option<deals::Outcome>| DealActionAnswer {
            deal: preview.deal.clone(),
            effect: preview.effect.clone(),
            ran,
            outcome,
        };
        if let Some(why) = &preview.refusal {
            deals::record_not_run(Who::Mcp, &preview, &format!("refused: {why}"));
            return Ok(refuse(why.clone()).into());
        }
        let question = format!("{}\n\n{}\n\nDo it?", preview.deal, preview.effect);
        match self
            .confirmation(&context, &question, responses.as_ref())
            .await?
        {
            Confirmation::Ask(request) => return Ok(*request),
            Confirmation::Declined => {
                deals::record_not_run(Who::Mcp, &preview, "declined");
                return Ok(refuse("The person did not confirm: nothing was sent.").into());
            }
            Confirmation::CannotAsk => {
                deals::record_not_run(
                    Who::Mcp,
                    &preview,
                    "refused: the client cannot ask the person",
                );
                return Ok(refuse("This client cannot ask the person to confirm (it offers no MCP elicitation), so nothing was sent. Deal actions always need the person's yes: let them run `botform deal` themselves.").into());
            }
            Confirmation::Confirmed => {}
        }
        let outcome = deals::run(&target.client, &target.identity, &preview, Who::Mcp, || {
            tracing::info!("waiting for another botform writing to this account")
        })
        .await;
        match outcome {
            Ok(o) => {
                let text = o.message.clone();
                let mut result =
                    rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text(
                        text,
                    )]);
                result.structured_content = serde_json::to_value(answer(true, Some(o))).ok();
                Ok(result.into())
            }
            Err(e) => Ok(refuse(e.to_string()).into()),
        }
    }
}
