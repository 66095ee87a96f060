//! `botform history` and `botform revert`: the applies recorded for a config, and undoing one
//! (its files put back, then the plan back applied as `apply` applies any plan).

use std::path::PathBuf;
use std::process::ExitCode;

use super::HumanOrJson as Format;
use super::Output;
use super::apply::{HowToApply, Recorded, Run, confirm_and_apply};
use crate::engine::desired::Retire;
use crate::engine::history::{self, History};
use crate::engine::plan::Action;
use crate::engine::{target, workflow};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The config directory (default: the current directory).
    path: Option<PathBuf>,
    /// One apply in detail: its changes and the diff of the config files.
    #[arg(long, value_name = "ID")]
    show: Option<String>,
    /// human or json.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, clap::Args)]
pub struct RevertArgs {
    /// The apply to undo (from `botform history`).
    id: String,
    /// The config directory (default: the current directory).
    path: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    auto_approve: bool,
    /// Delete the bots the apply created; without it they are switched off.
    #[arg(long)]
    allow_delete: bool,
    /// Revert even when the config changed since that apply (those edits are lost), and apply
    /// past settings.max_change_percentage.
    #[arg(long)]
    force: bool,
}

fn root_of(path: &Option<PathBuf>) -> PathBuf {
    workflow::config_root(&super::paths_or_cwd(path.iter().cloned().collect()))
}

pub fn history(args: HistoryArgs) -> ExitCode {
    let root = root_of(&args.path);
    let history = History::of_root(&root);
    let records = match &args.show {
        Some(id) => history.get(id).map(|r| vec![r]),
        None => history.list(),
    };
    let records = match records {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&records).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if records.is_empty() {
        println!(
            "No apply is recorded for {} yet: `botform apply` records each one.",
            root.display()
        );
        return ExitCode::SUCCESS;
    }
    for record in &records {
        println!(
            "{}  {}  via {:<3}  +{} ~{} -{}{}{}",
            record.id,
            record.at,
            record.via,
            record.done(Action::Create),
            record.done(Action::Update) + record.done(Action::UpdateBlacklist),
            record.done(Action::Delete),
            if record.failed > 0 {
                format!("  {} failed", record.failed)
            } else {
                String::new()
            },
            if record.revertible() {
                ""
            } else {
                "  (cannot be reverted: earlier files unknown)"
            }
        );
    }
    if let [record] = records.as_slice()
        && args.show.is_some()
    {
        for change in &record.changes {
            println!(
                "  {}: {:?}: {}",
                change.address, change.action, change.result
            );
        }
        if let Some(diff) = history.diff(record) {
            print!("{diff}");
        }
    }
    ExitCode::SUCCESS
}

pub fn revert(args: RevertArgs, output: Output) -> ExitCode {
    super::runtime().block_on(revert_async(args, output))
}

async fn revert_async(args: RevertArgs, output: Output) -> ExitCode {
    let root = root_of(&args.path);
    let history = History::of_root(&root);
    let paths = vec![root.clone()];
    let now = history::files_of(&crate::config::check(&paths), &root);
    let restore = match history.restore(&args.id, &now, args.force) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match restore.write(|relative| history::under_root(&root, relative)) {
        Ok(files) => {
            for file in files {
                eprintln!("{file}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let (checked, mut desired) = match workflow::check(&paths, &[]) {
        Ok(c) => c,
        Err(e) => return super::report_workflow_error(e, output),
    };
    let retire = if args.allow_delete {
        Retire::Delete
    } else {
        Retire::Disable
    };
    desired.retire = restore.created.iter().map(|c| (c.bot_id, retire)).collect();
    if !restore.created.is_empty() {
        eprintln!(
            "The {} bots apply {} created are {} by this plan.",
            restore.created.len(),
            args.id,
            match retire {
                Retire::Delete => "deleted",
                Retire::Disable => "switched off (not deleted: add --allow-delete to delete them)",
            }
        );
    }
    let target = match crate::connect::connect(target::ConnectOptions {
        mode: desired.mode,
        rate_limit: desired.rate_limit,
    })
    .await
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let plan = match workflow::plan_against(&target, &desired, &[]).await {
        Ok(p) => p,
        Err(e) => return super::report_workflow_error(e, output),
    };
    let how = HowToApply {
        auto_approve: args.auto_approve,
        allow_delete: args.allow_delete,
        force: args.force,
        format: Format::Human,
    };
    let root_for_undo = root.clone();
    let recorded = Recorded {
        files: Some(history::files_of(&checked, &root)),
        root,
    };
    // Refused or declined: the files go back to what they were before the revert, so nothing
    // is left half done (the config restored, the bots it created forgotten).
    let put_back = || {
        let back = history::Restore {
            files: now
                .iter()
                .map(|(path, text)| (path.clone(), Some(text.clone())))
                .chain(
                    restore
                        .files
                        .keys()
                        .filter(|p| !now.contains_key(*p))
                        .map(|p| (p.clone(), None)),
                )
                .collect(),
            created: Vec::new(),
        };
        match back.write(|relative| history::under_root(&root_for_undo, relative)) {
            Ok(_) => eprintln!("Not reverted: the config files are as they were before."),
            Err(e) => eprintln!("error: putting the files back: {e}"),
        }
    };
    let run = Run {
        saved: None,
        leased: None,
        recorded,
    };
    confirm_and_apply(plan, target, run, &how, output, &put_back).await
}
