//! `botform init [DIR]`: a starter config a newcomer can validate, plan and apply at once. The
//! account comes from the target botform works against (the first account, or `--account`), the
//! pair from what that account's exchange lists, the base order from its minimum; one bot from a
//! template, switched off; and the schema beside it, so an editor completes every field.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::engine::target;
use crate::model::enums::TradingMode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write botform.toml and botform.schema.json (default: the current directory).
    dir: Option<PathBuf>,
    /// The account to start from (by name or id; default: the first one).
    #[arg(long, value_name = "NAME_OR_ID")]
    account: Option<String>,
    /// The mode to work in: real (exchange accounts) or paper (3Commas' paper account).
    #[arg(long, value_enum, default_value_t = InitMode::Real)]
    mode: InitMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum InitMode {
    Real,
    Paper,
}

/// The pairs tried first, in order, before the exchange's first listed pair.
const PREFERRED_PAIRS: [&str; 3] = ["USDT_BTC", "USDC_BTC", "BTC_ETH"];

pub fn run(args: Args) -> ExitCode {
    super::runtime().block_on(async {
        match init(&args).await {
            Ok(path) => {
                eprintln!(
                    "wrote {path}: `botform validate {dir}` checks it, `botform plan {dir}` shows what apply would create",
                    dir = args.dir.as_deref().unwrap_or(std::path::Path::new(".")).display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn init(args: &Args) -> Result<String, String> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let config_path = dir.join("botform.toml");
    let schema_path = dir.join("botform.schema.json");
    for path in [&config_path, &schema_path] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(format!(
                "{} exists: init never overwrites; pick an empty directory",
                path.display()
            ));
        }
    }
    let mode = match args.mode {
        InitMode::Real => TradingMode::Real,
        InitMode::Paper => TradingMode::Paper,
    };
    let target = crate::connect::connect(target::ConnectOptions::mode(Some(mode)))
        .await
        .map_err(|e| e.to_string())?;
    let accounts = target.client.accounts().await.map_err(|e| e.to_string())?;
    let account = match &args.account {
        None => accounts.first(),
        Some(wanted) => accounts
            .iter()
            .find(|a| a.name == *wanted || a.id.to_string() == *wanted),
    }
    .ok_or_else(|| {
        let names: Vec<String> = accounts.iter().map(|a| format!("\"{}\"", a.name)).collect();
        format!(
            "no {mode} account{}: the {mode} accounts are {}",
            args.account
                .as_ref()
                .map(|a| format!(" named {}", crate::diagnostic::quote_input(a)))
                .unwrap_or_default(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )
    })?;
    let market = account.market_code.clone().unwrap_or_default();
    let listed = target
        .client
        .market_pairs(&market)
        .await
        .map_err(|e| e.to_string())?;
    let pair = PREFERRED_PAIRS
        .iter()
        .find(|p| listed.iter().any(|l| l == *p))
        .map(|p| p.to_string())
        .or_else(|| listed.first().cloned())
        .ok_or_else(|| format!("{market} lists no pairs"))?;
    let quote = pair.split('_').next().unwrap_or("").to_string();
    // The exchange's minimum order, rounded up to a whole unit, and never below 10.
    let minimum = target
        .client
        .currency_rates(&market, &pair)
        .await
        .ok()
        .and_then(|r| match r.get("minTotal")? {
            serde_json::Value::String(s) => s.parse::<f64>().ok(),
            serde_json::Value::Number(n) => n.as_f64(),
            _ => None,
        })
        .unwrap_or(0.0);
    let base = (minimum.ceil() as i64).max(10);
    let from = if target.info.sandbox {
        "the built-in sandbox".to_string()
    } else {
        crate::diagnostic::quote_input(&target.info.api_url)
    };
    let name = toml_string(&account.name);
    let text = format!(
        r#"#:schema ./botform.schema.json
# A starter config, written by `botform init` from {from}.
# `botform validate` checks it offline; `botform plan` shows what `botform apply` would do.

[settings]
mode = "{mode}"               # sent as Forced-Mode with every request: real | paper
prune = false               # leave live bots that no file describes alone

[accounts.main]
name = {name}  # the live account, matched by name (or pin it: id = {id})

[templates.starter]         # shared settings; a bot's own settings override them
base_order_volume = {base}      # in {quote}, the pair's quote currency
safety_order_volume = {safety}
max_safety_orders = 5
active_safety_orders_count = 1
safety_order_step_percentage = 1.5
martingale_volume_coefficient = 1.5
martingale_step_coefficient = 1.2
take_profit = 1.5
take_profit_type = "total"

[[bots]]
name = "starter {pair}"
account = "main"
pairs = ["{pair}"]          # QUOTE_BASE, as 3Commas writes pairs
template = "starter"
start = [{{ strategy = "nonstop" }}]
strategy = "long"
enabled = false             # created switched off: set true when the numbers suit you
"#,
        id = account.id,
        safety = base * 2,
    );
    crate::files::write_user_file(&schema_path, crate::schema::config_schema_json().as_bytes())
        .map_err(|e| format!("{}: {e}", schema_path.display()))?;
    crate::files::write_user_file(&config_path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", config_path.display()))?;
    Ok(config_path.display().to_string())
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}
