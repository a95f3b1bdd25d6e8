//! The `vistterstream` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Before any other thread exists (see vs_engine::memory).
    vs_engine::memory::tune_allocator();
    let cli = vistterstream::cli::Cli::parse();
    vistterstream::cli::run(cli)
}
