//! `botform apply`: make exactly the reviewed changes on 3Commas.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::HumanOrJson as Format;
use super::Output;
use crate::engine::apply::{self, ApplyError, ApplyOptions, ApplyReport};
use crate::engine::plan::{Action, Plan};
use crate::engine::render::{self, RenderOptions};
use crate::engine::target;
use crate::engine::workflow::{self, SavedPlan};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config files or directories (default: the current directory). Not with --plan.
    #[arg(conflicts_with = "plan")]
    paths: Vec<PathBuf>,
    /// Apply this saved plan (from `botform plan --out`) instead of planning now.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(long)]
    auto_approve: bool,
    /// Allow the plan to delete bots. A flag, never a config key, so protection cannot vanish with
    /// an edit.
    #[arg(long)]
    allow_delete: bool,
    /// Apply even when the plan changes more managed bots than settings.max_change_percentage.
    #[arg(long)]
    force: bool,
    /// Apply only to these bots (by name; `blacklist` for the blacklist). Repeatable.
    #[arg(long = "target", value_name = "NAME", conflicts_with = "plan")]
    targets: Vec<String>,
    /// How to report: human (the plan, then what was done) or json (what was done, one
    /// document on stdout; the plan and progress go to stderr). JSON needs --auto-approve.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

pub fn run(args: Args, output: Output) -> ExitCode {
    super::runtime().block_on(run_async(args, output))
}

async fn run_async(args: Args, output: Output) -> ExitCode {
    // The config root and its files, for the apply's history (unknown for a saved plan file).
    let mut planned_files = None;
    let history_root = workflow::config_root(&super::paths_or_cwd(args.paths.clone()));
    let (plan, target, saved, leased) = match &args.plan {
        Some(path) => {
            // Authenticated before anything in it is acted on.
            let saved = match crate::connect::plan_key().and_then(|key| {
                SavedPlan::read(path, &key).map_err(crate::threecommas::ApiError::Config)
            }) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let target =
                match crate::connect::connect(target::ConnectOptions::mode(saved.plan.target.mode))
                    .await
                {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                };
            if let Some(when) = saved.applied_at() {
                eprintln!(
                    "error: {} was already applied ({when}); a saved plan applies once. Run `botform plan` for what is left",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
            if target.info != saved.plan.target {
                eprintln!(
                    "error: the plan was made for {} but botform now targets {}: refusing to apply it elsewhere",
                    describe(&saved.plan.target),
                    describe(&target.info)
                );
                return ExitCode::FAILURE;
            }
            (saved.plan.clone(), target, Some(saved), None)
        }
        None => {
            let paths = super::paths_or_cwd(args.paths.clone());
            // Planned under the account's lease, kept to the last write: no other botform
            // apply writes between this read and this apply's writes.
            let waiting = Arc::new(|line: String| eprintln!("{line}"));
            let (planned, leased) = match workflow::make_plan_leased(
                &paths,
                &args.targets,
                crate::connect::CONNECT,
                waiting,
            )
            .await
            {
                Ok(p) => p,
                Err(e) => return super::report_workflow_error(e, output),
            };
            planned_files = Some(crate::engine::history::files_of(
                &planned.checked,
                &history_root,
            ));
            (planned.plan, planned.target, None, Some(leased))
        }
    };
    let how = HowToApply {
        auto_approve: args.auto_approve,
        allow_delete: args.allow_delete,
        force: args.force,
        format: args.format,
    };
    let recorded = Recorded {
        root: history_root,
        files: planned_files,
    };
    let run = Run {
        saved,
        leased,
        recorded,
    };
    confirm_and_apply(plan, target, run, &how, output, &|| {}).await
}

/// How `apply` (and `revert`) apply a plan: the person's flags.
pub struct HowToApply {
    pub auto_approve: bool,
    pub allow_delete: bool,
    pub force: bool,
    pub format: Format,
}

/// Where an apply is recorded (`crate::engine::history`): the config root, and the files the
/// plan came from when known.
pub struct Recorded {
    pub root: PathBuf,
    pub files: Option<std::collections::BTreeMap<String, String>>,
}

/// Where a plan to apply came from: a saved plan file, or a read made under the lease the apply
/// keeps (see `apply::LeasedRead`), and where the apply is recorded.
pub struct Run {
    pub saved: Option<SavedPlan>,
    pub leased: Option<apply::LeasedRead>,
    pub recorded: Recorded,
}

/// Show the plan, check the safety rails, ask (unless auto-approved), apply, record it in the
/// history and report. `not_applied` runs when the plan is refused or declined before any write
/// (`revert` puts the files back then).
pub async fn confirm_and_apply(
    plan: Plan,
    target: target::Target,
    run: Run,
    args: &HowToApply,
    output: Output,
    not_applied: &dyn Fn(),
) -> ExitCode {
    let Run {
        saved,
        leased,
        recorded,
    } = run;
    let stdout = io::stdout();
    let json = args.format == Format::Json;
    if json && !args.auto_approve {
        eprintln!("error: --format json reports on stdout, so it cannot ask: add --auto-approve");
        return ExitCode::FAILURE;
    }
    {
        // The plan: on stdout for people, on stderr beside a JSON report.
        let options = RenderOptions {
            color: output.color && !json,
            show_unmanaged: false,
        };
        let _ = if json {
            render::render(&mut io::stderr().lock(), &plan, &options)
        } else {
            render::render(&mut stdout.lock(), &plan, &options)
        };
    }
    if plan.is_empty() {
        if json {
            let _ = write_json(&mut stdout.lock(), &plan, None);
        }
        return ExitCode::SUCCESS;
    }
    let options = ApplyOptions::for_target(&target, args.allow_delete, args.force);
    if let Err(refusal) = apply::check_safety(&plan, &options) {
        eprintln!("error: {refusal}");
        not_applied();
        return ExitCode::FAILURE;
    }
    if !args.auto_approve && !confirm(&plan) {
        not_applied();
        return ExitCode::FAILURE;
    }
    if let Some(saved) = &saved
        && let Err(e) = saved.mark_applied()
    {
        eprintln!(
            "error: cannot record the plan's apply in botform's state dir: {e}; nothing was sent"
        );
        return ExitCode::FAILURE;
    }
    let progress = progress_for(plan.changes.len(), target.client.pace());
    // After a person's confirmation the account is read again (under the same lease): it may
    // have moved in the web app while they read the plan.
    let leased = leased.map(|read| apply::LeasedRead {
        live: read.live.filter(|_| args.auto_approve),
        ..read
    });
    let applied = apply::apply(&target, &plan, &options, progress, leased).await;
    if applied.is_err()
        && let Some(saved) = &saved
    {
        // Refused before its first write: the plan was not applied.
        saved.unmark_applied();
    }
    let report = match applied {
        Ok(r) => r,
        Err(ApplyError::Refused(refusal)) => {
            eprintln!("error: {refusal}");
            return ExitCode::FAILURE;
        }
        Err(ApplyError::Api(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        Err(ApplyError::Lease(e)) => {
            eprintln!("error: cannot take the account's lease: {e}");
            return ExitCode::FAILURE;
        }
    };
    match crate::engine::history::History::of_root(&recorded.root).record(
        "cli",
        &plan,
        &report,
        recorded.files.as_ref(),
    ) {
        Ok(id) => eprintln!(
            "Recorded as apply {id}: `botform history` lists applies, `botform revert {id}` undoes this one."
        ),
        Err(e) => eprintln!("warning: the apply was not recorded in botform's history: {e}"),
    }
    let mut out = stdout.lock();
    let _ = if json {
        write_json(&mut out, &plan, Some(&report))
    } else {
        write_report(&mut out, &report)
    };
    if report.failures() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn describe(t: &crate::engine::plan::PlanTarget) -> String {
    let mode = t.mode.map(|m| format!(" ({m} mode)")).unwrap_or_default();
    if t.sandbox {
        format!("the built-in sandbox{mode}")
    } else {
        format!("{}{mode}", t.api_url)
    }
}

/// Ask on the terminal; without one, refuse (the caller must pass --auto-approve).
/// How apply shows its progress: on a terminal, a bar with the count done and the pace botform
/// keeps to (the lines above it as they come); elsewhere, one line per change as before.
fn progress_for(total: usize, pace: u32) -> Arc<dyn Fn(String) + Send + Sync> {
    if !std::io::stderr().is_terminal() || total < 2 {
        return Arc::new(|line| eprintln!("{line}"));
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} changes · {elapsed} · {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if bar.is_hidden() {
        // A terminal that cannot draw (TERM unset or dumb): the lines, as without one.
        return Arc::new(|line| eprintln!("{line}"));
    }
    bar.set_message(format!("pace: at most {pace} requests a minute"));
    Arc::new(move |line: String| {
        if let Some((done, _)) = apply::progress_counts(&line) {
            bar.set_position(done as u64);
            if done == total {
                bar.finish_and_clear();
            }
        }
        bar.println(&line);
    })
}

fn confirm(plan: &Plan) -> bool {
    if !io::stdin().is_terminal() {
        eprintln!(
            "error: no terminal to confirm on: review the plan, then run again with --auto-approve"
        );
        return false;
    }
    let s = &plan.summary;
    eprint!(
        "\nDo you want to make these changes ({} to add, {} to change, {} to destroy)?\n  Only 'yes' will be accepted: ",
        s.add, s.change, s.destroy
    );
    let _ = io::stderr().flush();
    let mut answer = String::new();
    let _ = io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        true
    } else {
        eprintln!("Apply cancelled.");
        false
    }
}

/// `apply --format json`: what was done, change by change, after the target line.
fn write_json(out: &mut dyn Write, plan: &Plan, report: Option<&ApplyReport>) -> io::Result<()> {
    let outcomes: Vec<serde_json::Value> = report
        .map(|r| {
            r.outcomes
                .iter()
                .map(|o| match &o.result {
                    Ok(what) => serde_json::json!({
                        "address": o.address,
                        "action": o.action,
                        "ok": true,
                        "done": what,
                    }),
                    Err(f) => serde_json::json!({
                        "address": o.address,
                        "action": o.action,
                        "ok": false,
                        "error": f.message,
                        "unresolved": f.unresolved,
                        "rejected_fields": f.fields.iter().map(|(field, message, source)| serde_json::json!({
                            "field": field, "message": message, "source": source,
                        })).collect::<Vec<_>>(),
                    }),
                })
                .collect()
        })
        .unwrap_or_default();
    let failed = report.map_or(0, ApplyReport::failures);
    let count = |a: Action| {
        report.map_or(0, |r| {
            r.outcomes
                .iter()
                .filter(|o| o.action == a && o.result.is_ok())
                .count()
        })
    };
    let document = serde_json::json!({
        "format_version": 1,
        "target": render::target_line(plan),
        "plan_hash": plan.hash(),
        "complete": failed == 0,
        "added": count(Action::Create),
        "changed": count(Action::Update) + count(Action::UpdateBlacklist),
        "destroyed": count(Action::Delete),
        "failed": failed,
        "outcomes": outcomes,
        "warnings": report.map(|r| r.not_taken.clone()).unwrap_or_default(),
    });
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&document).map_err(io::Error::from)?
    )
}

fn write_report(out: &mut dyn Write, report: &ApplyReport) -> io::Result<()> {
    let count = |a: Action| {
        report
            .outcomes
            .iter()
            .filter(|o| o.action == a && o.result.is_ok())
            .count()
    };
    writeln!(out)?;
    for outcome in report.outcomes.iter() {
        if let Err(failure) = &outcome.result {
            // 3Commas' words are text from outside: shown, never obeyed by the terminal.
            let shown = crate::diagnostic::shown;
            writeln!(
                out,
                "Error: {}: {}",
                outcome.address,
                shown(&failure.message)
            )?;
            for (field, message, source) in &failure.fields {
                match source {
                    Some(s) => writeln!(
                        out,
                        "  {s}: 3Commas rejected `{}`: {}",
                        shown(field),
                        shown(message)
                    )?,
                    None => writeln!(
                        out,
                        "  3Commas rejected `{}`: {}",
                        shown(field),
                        shown(message)
                    )?,
                }
            }
            if failure.unresolved {
                writeln!(
                    out,
                    "  It is unclear whether this change took effect: run `botform plan` to see what is left."
                )?;
            }
        }
    }
    for note in &report.not_taken {
        writeln!(out, "Warning: {note}")?;
    }
    let failed = report.failures();
    writeln!(
        out,
        "Apply {}: {} added, {} changed, {} destroyed{}.",
        if failed == 0 {
            "complete"
        } else {
            "incomplete"
        },
        count(Action::Create),
        count(Action::Update) + count(Action::UpdateBlacklist),
        count(Action::Delete),
        if failed > 0 {
            format!(", {failed} failed (run `botform plan` to see what is left)")
        } else {
            String::new()
        }
    )
}
