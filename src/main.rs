//! The `botform` binary: parse arguments, run the command, exit with its status.

fn main() -> std::process::ExitCode {
    botform::cli::main()
}
