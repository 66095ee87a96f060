//! `botform man`: the manual in roff. Alone it prints the top-level page; `--out DIR` writes a
//! page per command (`botform.1`, `botform-plan.1`, `botform-sandbox-serve.1`, ...). Every page
//! ends with ENVIRONMENT (what botform reads from the environment) and EXIT STATUS.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write one page per command into this directory instead of printing the top-level page.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The variables botform reads, for every page.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "THREECOMMAS_API_KEY",
        "The 3Commas API key. Without it botform works against its built-in sandbox, but only where no THREECOMMAS_* variable is set and CI is not true; there a missing or empty key is an error.",
    ),
    (
        "THREECOMMAS_API_SECRET",
        "The key's HMAC secret (or THREECOMMAS_PRIVATE_KEY_FILE for an RSA key).",
    ),
    (
        "THREECOMMAS_PRIVATE_KEY_FILE",
        "A PEM file with the key's RSA private key.",
    ),
    (
        "THREECOMMAS_API_URL",
        "Another 3Commas-compatible server (a sandbox on a port).",
    ),
    (
        "THREECOMMAS_TARGET",
        "sandbox: work against the built-in sandbox, as --sandbox does; 3commas: insist on a key.",
    ),
    (
        "THREECOMMAS_MODE",
        "paper or real, sent as Forced-Mode when settings.mode is unset.",
    ),
    (
        "THREECOMMAS_RATE_LIMIT",
        "Requests a minute botform allows itself (1 to 100; default 90).",
    ),
    (
        "THREECOMMAS_TIMEOUT",
        "Seconds to wait for an answer (default 30).",
    ),
    (
        "THREECOMMAS_RECORD",
        "A directory to record requests and answers into, secrets removed.",
    ),
    (
        "BOTFORM_STATE_DIR",
        "botform's own state: leases, the journal of creates, the pace (default ~/.local/state/botform).",
    ),
    (
        "BOTFORM_SANDBOX_STATE",
        "The built-in sandbox's database (default sandbox.db in the state dir).",
    ),
    (
        "BOTFORM_CACHE_DIR",
        "Downloaded candles (default ~/.cache/botform).",
    ),
    (
        "CI",
        "When true, a missing key is an error, never the sandbox.",
    ),
    ("NO_COLOR", "Any value turns color off."),
    ("RUST_LOG", "Log detail on stderr (warn by default)."),
];

/// Each command's exit codes, by the page's name.
fn exit_status(page: &str) -> &'static [(&'static str, &'static str)] {
    match page {
        "botform-validate" => &[("0", "valid (warnings allowed)"), ("1", "invalid")],
        "botform-plan" => &[
            ("0", "planned (with --detailed-exitcode: no changes)"),
            (
                "1",
                "an error: invalid config, 3Commas refused, a change known to fail",
            ),
            ("2", "with --detailed-exitcode: the plan has changes"),
        ],
        "botform-apply" => &[
            ("0", "applied, or nothing to apply"),
            ("1", "refused or failed; `botform plan` shows what is left"),
        ],
        "botform-doctor" => &[
            ("0", "ready"),
            ("1", "not ready (a check failed, or no key)"),
        ],
        "botform-fmt" => &[
            ("0", "formatted (with --check: nothing to format)"),
            (
                "1",
                "with --check: files to format; or a file that does not parse",
            ),
        ],
        "botform-sandbox-serve" => &[
            ("0", "stopped"),
            ("1", "could not start (the address is named)"),
            ("2", "a bad --market"),
        ],
        _ => &[("0", "success"), ("1", "failure")],
    }
}

/// Text for roff: backslashes and leading dots escaped.
fn roff_text(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

/// One command's page: clap's sections, then ENVIRONMENT and EXIT STATUS.
fn page(command: clap::Command, name: &str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command).render(&mut out)?;
    writeln!(out, ".SH ENVIRONMENT")?;
    for (var, what) in ENVIRONMENT {
        writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff_text(var), roff_text(what))?;
    }
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for (code, what) in exit_status(name) {
        writeln!(out, ".TP\n\\fB{code}\\fR\n{}", roff_text(what))?;
    }
    Ok(out)
}

/// Every command's page, by file name stem: the top level first, then each subcommand (and
/// theirs) as `botform-sub[-subsub]`.
pub fn pages(command: clap::Command) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    fn walk(
        command: &clap::Command,
        name: String,
        into: &mut Vec<(String, Vec<u8>)>,
    ) -> std::io::Result<()> {
        let titled = command.clone().display_name(name.clone());
        into.push((name.clone(), page(titled, &name)?));
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() == "help" {
                continue;
            }
            walk(sub, format!("{name}-{}", sub.get_name()), into)?;
        }
        Ok(())
    }
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut all = Vec::new();
    walk(&command, "botform".into(), &mut all)?;
    Ok(all)
}

pub fn run(args: Args, command: clap::Command) -> ExitCode {
    let result = match &args.out {
        None => pages(command).and_then(|all| {
            let (_, top) = all.into_iter().next().expect("the top-level page");
            std::io::stdout().write_all(&top)
        }),
        Some(dir) => write_pages(command, dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the man pages: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_pages(command: clap::Command, dir: &Path) -> std::io::Result<()> {
    let all = pages(command)?;
    for (name, text) in &all {
        crate::files::write_user_file(&dir.join(format!("{name}.1")), text)?;
    }
    eprintln!("wrote {} man pages into {}", all.len(), dir.display());
    Ok(())
}
