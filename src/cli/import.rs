//! `botform import`: write the live account out as config files.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::engine::import::{self, ImportFormat};
use crate::engine::target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Import only this account (by name or id). Repeatable; default: every account.
    #[arg(long = "account", value_name = "NAME_OR_ID")]
    accounts: Vec<String>,
    /// Write the files into this directory (created if needed); without it, print them.
    #[arg(long)]
    out: Option<PathBuf>,
    /// File format.
    #[arg(long, value_enum, default_value_t = ImportFormat::Toml)]
    format: ImportFormat,
    /// Overwrite files that already exist in --out.
    #[arg(long)]
    overwrite: bool,
}

pub fn run(args: Args) -> ExitCode {
    super::runtime().block_on(async {
        // Without credentials: the built-in sandbox.
        let target = match crate::connect::connect(target::ConnectOptions::default()).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let live = match target::read_live(&target.client, true).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let accounts = match import::select_accounts(&live.accounts, &args.accounts) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let source = if target.info.sandbox {
            "the built-in sandbox".to_string()
        } else {
            target.info.api_url.clone()
        };
        // Grid bots are imported beside the DCA bots; an account whose grid bots cannot be read
        // is imported without them, and says so.
        let grids = match target.client.grid_bots().await {
            Ok(grids) => grids,
            Err(e) => {
                eprintln!("warning: grid bots could not be read ({e}): imported without them");
                Vec::new()
            }
        };
        let files = import::import(&live, &grids, &accounts, args.format, &source);
        match &args.out {
            None => {
                for file in &files {
                    println!("# ==> {} <==\n{}", file.path, file.text);
                }
            }
            Some(dir) => {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    eprintln!("error: cannot create {}: {e}", dir.display());
                    return ExitCode::FAILURE;
                }
                for file in &files {
                    let path = dir.join(&file.path);
                    if path.symlink_metadata().is_ok() && !args.overwrite {
                        eprintln!(
                            "error: {} exists; pass --overwrite to replace it",
                            path.display()
                        );
                        return ExitCode::FAILURE;
                    }
                }
                for file in &files {
                    let path = dir.join(&file.path);
                    if let Err(e) = crate::files::write_user_file(&path, file.text.as_bytes()) {
                        eprintln!("error: cannot write {}: {e}", path.display());
                        return ExitCode::FAILURE;
                    }
                    eprintln!("wrote {}", path.display());
                }
            }
        }
        let bots: usize = live
            .bots
            .iter()
            .filter(|b| accounts.iter().any(|a| a.id == b.account_id))
            .count();
        let grid_bots = grids
            .iter()
            .filter(|g| accounts.iter().any(|a| a.id == g.account_id))
            .count();
        eprintln!(
            "Imported {} account{}, {bots} bot{} and {grid_bots} grid bot{}.",
            accounts.len(),
            if accounts.len() == 1 { "" } else { "s" },
            if bots == 1 { "" } else { "s" },
            if grid_bots == 1 { "" } else { "s" }
        );
        ExitCode::SUCCESS
    })
}
