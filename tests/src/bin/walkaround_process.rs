//! The real `walkaround` command line, built inside the test package so that tests can run
//! the server as a separate process and kill it with SIGKILL (`CARGO_BIN_EXE_walkaround-process`).

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = server::cli::Cli::parse();
    server::telemetry::init(cli.log_format);
    match server::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("walkaround: {e}");
            ExitCode::FAILURE
        }
    }
}
