//! `botform doctor`: a read-only first contact with 3Commas (or the sandbox botform targets).
//!
//! It checks, in order, what a first real `plan` and `apply` depend on, and says for each
//! failure what to do: the URL is reached, the key is accepted, the clocks agree, the key may
//! read accounts and bots, which accounts each mode shows, whether `Forced-Mode` is set, and the
//! pace botform keeps. It sends only GET requests: nothing on 3Commas changes.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use super::HumanOrJson as Format;
use crate::engine::plan::answered_in;
use crate::engine::target;
use crate::model::enums::TradingMode;
use crate::threecommas::{ApiError, BotsFilter, Client};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config files or directories whose settings (mode) to use (default: the current directory).
    paths: Vec<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// One check: what was looked at, what was found, and what to do when it failed.
#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    /// A passing check with advice (`fix`) all the same.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    warning: bool,
    found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, found: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            warning: false,
            found: found.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            warning: false,
            found: found.into(),
            fix: Some(fix.into()),
        }
    }

    fn warn(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            ok: true,
            warning: true,
            ..Check::fail(name, found, fix)
        }
    }
}

/// What to do about an error 3Commas gave for a read that needs `permission`.
fn advice(e: &ApiError, permission: &str) -> String {
    match e.status() {
        Some(401) => "check THREECOMMAS_API_KEY and THREECOMMAS_API_SECRET (or THREECOMMAS_PRIVATE_KEY_FILE); if the key is limited to some IP addresses, add this machine's".into(),
        Some(403) => format!("give the key the {permission} permission in 3Commas (API keys page), or make a new key with it"),
        Some(429) => "wait 5 minutes; if this repeats, lower THREECOMMAS_RATE_LIMIT to what your 3Commas plan allows".into(),
        Some(418) => "this IP is banned for a while for too many requests: wait at least 2 minutes".into(),
        _ => "check THREECOMMAS_API_URL and this machine's network".into(),
    }
}

pub fn run(args: Args) -> ExitCode {
    super::runtime().block_on(async {
        // The config's mode, when there is a config here (its errors are validate's business).
        let paths = super::paths_or_cwd(args.paths);
        let options =
            target::ConnectOptions::from_settings(&crate::config::check(&paths).config.settings);
        // Without a key, every check below passes against the sandbox: ready for the sandbox,
        // not for a real account, and the verdict says so.
        let no_key = matches!(target::choose(), Ok(target::Choice::Sandbox { explicit: false }));
        let checks = match crate::connect::connect(options).await {
            Ok(target) => {
                let mut checks = vec![if no_key {
                    Check::fail(
                        "target",
                        "no key; working against the built-in sandbox",
                        "set THREECOMMAS_API_KEY with THREECOMMAS_API_SECRET (HMAC) or THREECOMMAS_PRIVATE_KEY_FILE (RSA) for a real account; --sandbox says the sandbox is what you mean",
                    )
                } else if target.info.sandbox {
                    Check::pass("target", "the built-in sandbox, as asked")
                } else {
                    Check::pass("target", target.info.api_url.clone())
                }];
                checks.extend(examine(&target.client).await);
                checks
            }
            Err(e) => vec![Check::fail(
                "credentials",
                e.to_string(),
                "set THREECOMMAS_API_KEY with THREECOMMAS_API_SECRET (HMAC) or THREECOMMAS_PRIVATE_KEY_FILE (RSA)",
            )],
        };
        let ok = checks.iter().all(|c| c.ok);
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let _ = match args.format {
            Format::Json => writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "ok": ok, "checks": checks }))
                    .expect("checks serialize")
            ),
            Format::Human => write_human(&mut out, &checks, ok, no_key),
        };
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

fn write_human(
    out: &mut dyn Write,
    checks: &[Check],
    ok: bool,
    no_key: bool,
) -> std::io::Result<()> {
    for c in checks {
        let mark = match (c.ok, c.warning) {
            (false, _) => "FAIL",
            (true, true) => "warn",
            (true, false) => "ok  ",
        };
        writeln!(out, "{mark} {:<14} {}", c.name, c.found)?;
        if let Some(fix) = &c.fix {
            writeln!(out, "     {:<14} -> {fix}", "")?;
        }
    }
    let others_ok = checks.iter().filter(|c| c.name != "target").all(|c| c.ok);
    writeln!(
        out,
        "\n{}",
        if no_key && others_ok {
            "Not ready for a real account: no key; working against the built-in sandbox (every other check passed there). Nothing was changed."
        } else if ok {
            "Ready: botform can plan against this account. Nothing was changed on 3Commas."
        } else {
            "Not ready: fix what failed above and run `botform doctor` again. Nothing was changed on 3Commas."
        }
    )
}

/// Every check that needs the network; stops at the first one later checks depend on.
async fn examine(client: &Client) -> Vec<Check> {
    let mut checks = Vec::new();
    // `/ver1/ping` and `/ver1/time` are in 3Commas' legacy docs only (review L-3): a server that
    // answers them with an error still answers, so only no answer at all stops the checks.
    match client.ping().await {
        Ok(()) => checks.push(Check::pass("reach", "3Commas answers /ver1/ping")),
        Err(e) if e.status().is_some() => checks.push(Check::warn(
            "reach",
            format!("3Commas answered /ver1/ping with an error ({e})"),
            "nothing to do if the checks below pass: /ver1/ping is not in 3Commas' current docs",
        )),
        Err(e) => {
            checks.push(Check::fail("reach", e.to_string(), advice(&e, "")));
            return checks;
        }
    }
    match client.server_time().await {
        Ok(server) => {
            let local = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let skew = (server - local).abs();
            // 3Commas' signatures carry no time, so a skew never refuses a request: a warning.
            checks.push(if skew <= 30 {
                Check::pass("clock", format!("within {skew} s of 3Commas' clock"))
            } else {
                Check::warn(
                    "clock",
                    format!("{skew} s away from 3Commas' clock"),
                    "set this machine's clock (NTP): requests still work, but times in plans, the late-create window and deal analytics would be off",
                )
            });
        }
        Err(e) => checks.push(Check::warn(
            "clock",
            format!("3Commas' clock could not be read ({e})"),
            "nothing to do if the checks below pass: /ver1/time is not in 3Commas' current docs",
        )),
    }
    match client.validate_credentials().await {
        Ok(()) => checks.push(Check::pass("key", "accepted (/ver1/validate)")),
        Err(e) => {
            checks.push(Check::fail("key", e.to_string(), advice(&e, "")));
            return checks;
        }
    }
    let forced = client.forced_mode();
    match client.accounts().await {
        Ok(accounts) => {
            let mode = answered_in(&accounts);
            let names: Vec<String> = accounts
                .iter()
                .map(|a| format!("\"{}\" (id {})", a.name, a.id))
                .collect();
            checks.push(Check::pass(
                "AccountsRead",
                format!(
                    "{} account{} in {}: {}",
                    accounts.len(),
                    if accounts.len() == 1 { "" } else { "s" },
                    mode.map(|m| format!("{m} mode"))
                        .unwrap_or("no mode".into()),
                    names.join(", ")
                ),
            ));
        }
        Err(e) => checks.push(Check::fail(
            "AccountsRead",
            e.to_string(),
            advice(&e, "AccountsRead"),
        )),
    }
    // The other mode's accounts, so the person sees which money each mode means.
    let other = match forced {
        Some(TradingMode::Paper) => TradingMode::Real,
        _ => TradingMode::Paper,
    };
    if let Ok(accounts) = client.in_mode(other).accounts().await {
        checks.push(Check::pass(
            "other mode",
            format!(
                "with Forced-Mode: {other}, 3Commas shows {} account{}",
                accounts.len(),
                if accounts.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    checks.push(match forced {
        Some(m) => Check::pass(
            "Forced-Mode",
            format!("{m} (from settings.mode or THREECOMMAS_MODE)"),
        ),
        None => Check::warn(
            "Forced-Mode",
            "not set: 3Commas acts in whatever mode its web app was last left in",
            "set `mode = \"real\"` (or \"paper\") under [settings], or THREECOMMAS_MODE",
        ),
    });
    match client
        .bots(BotsFilter {
            account_id: None,
            enabled: Some(true),
        })
        .await
    {
        Ok(bots) => checks.push(Check::pass(
            "BotsRead",
            format!(
                "{} enabled bot{} listed{}",
                bots.len(),
                if bots.len() == 1 { "" } else { "s" },
                if bots.unreadable.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} in a form botform cannot read (plan names them and leaves them alone)",
                        bots.unreadable.len()
                    )
                }
            ),
        )),
        Err(e) => checks.push(Check::fail("BotsRead", e.to_string(), advice(&e, "BotsRead"))),
    }
    checks.push(Check::pass(
        "BotsWrite",
        "not checked: doctor never writes. apply needs it, and a 403 there names it",
    ));
    checks.push(Check::pass(
        "pace",
        format!(
            "{} requests a minute (3Commas allows 100; THREECOMMAS_RATE_LIMIT lowers it for plans that allow fewer)",
            client.pace()
        ),
    ));
    checks
}
