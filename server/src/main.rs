//! The `walkaround` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    server::telemetry::init();
    match server::cli::run(server::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("walkaround: {e}");
            ExitCode::FAILURE
        }
    }
}
