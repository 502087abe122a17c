//! `hearth-load`: load generator for the homeserver and federation. See BENCHMARKS.md and
//! `hearth-load --help`. It starts the server binaries that sit next to it in
//! `target/<profile>/` (override with `HEARTH_HOMESERVER_BIN` / `HEARTH_DIRECTORY_BIN`).

use clap::Parser;
use hearth_tests::load::{cli, target};

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    target::use_sibling_binaries();
    let ok = actix_web::rt::System::new().block_on(cli::main(cli));
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
