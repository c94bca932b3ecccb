//! `smac`: optimize any program's parameters from the command line (see `docs/cli.md`).

fn main() -> std::process::ExitCode {
    smac::cli::main()
}
