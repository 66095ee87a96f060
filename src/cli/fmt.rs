//! `botform fmt`: rewrite config files in the canonical layout (`edit::format`), or with
//! `--check` only say which files are not in it (and how they would change).

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// Change nothing: list the files not in the canonical layout with their diff; exit 1 if any.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> ExitCode {
    let paths = super::paths_or_cwd(args.paths);
    let mut diagnostics = Vec::new();
    let files = crate::config::load::discover(&paths, &mut diagnostics);
    let mut failed = !diagnostics.is_empty();
    for d in &diagnostics {
        eprintln!("error: {}", d.message);
    }
    let mut unformatted = Vec::new();
    for path in &files {
        let text = match crate::files::read_bounded(path, crate::files::MAX_CONFIG_FILE_BYTES) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                failed = true;
                continue;
            }
        };
        let tidy = match crate::edit::format::format(path, &text) {
            Ok(tidy) => tidy,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        if tidy == text {
            continue;
        }
        let shown = path.display().to_string();
        if args.check {
            let edited = crate::edit::Edited {
                path: path.clone(),
                before: text,
                after: tidy,
            };
            print!("{}", edited.diff(&shown));
            unformatted.push(shown);
        } else if let Err(e) = crate::files::rewrite_config_file(path, tidy.as_bytes()) {
            eprintln!("error: cannot write {shown}: {e}");
            failed = true;
        } else {
            eprintln!("formatted {shown}");
        }
    }
    if args.check && !unformatted.is_empty() {
        eprintln!(
            "{} file{} not in botform's layout: {} (run `botform fmt` to fix)",
            unformatted.len(),
            if unformatted.len() == 1 {
                " is"
            } else {
                "s are"
            },
            unformatted.join(", ")
        );
        return ExitCode::FAILURE;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
