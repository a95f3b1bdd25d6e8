//! The `vistterstream` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = vistterstream::cli::Cli::parse();
    vistterstream::cli::run(cli)
}
