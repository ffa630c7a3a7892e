//! The command line: `walkaround serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, Database};
use crate::startup::{Application, StartupError};

/// Walkaround: workshop inspections that work offline.
#[derive(Debug, Parser)]
#[command(name = "walkaround", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sync server.
    Serve(ServeArgs),
}

/// Options of `walkaround serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WALKAROUND_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the SQLite database and other data; created on first run.
    #[arg(long, env = "WALKAROUND_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// A `postgres://` URL to use PostgreSQL instead of the embedded SQLite file.
    #[arg(long, env = "WALKAROUND_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl ServeArgs {
    /// Validates the options into a [`Config`].
    pub fn into_config(self) -> Result<Config, StartupError> {
        let database = match self.database_url {
            None => Database::Sqlite {
                data_dir: self.data_dir.clone(),
            },
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Database::Postgres { url }
            }
            Some(_) => return Err(StartupError::Config(
                "--database-url must be a postgres:// URL; SQLite is the default and needs no URL"
                    .to_string(),
            )),
        };
        Ok(Config {
            listen: self.listen,
            database,
            data_dir: self.data_dir,
        })
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), StartupError> {
    match cli.command {
        Command::Serve(args) => {
            let app = Application::build(args.into_config()?).await?;
            tracing::info!(address = %app.address(), "walkaround is listening");
            println!("Walkaround is running at http://{}/", app.address());
            app.run_until_stopped().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<Config, StartupError> {
        let cli = Cli::try_parse_from(["walkaround", "serve"].iter().chain(args)).expect("parses");
        let Command::Serve(serve) = cli.command;
        serve.into_config()
    }

    #[test]
    fn serve_defaults_to_sqlite_in_data_on_port_8080() {
        let config = serve(&[]).expect("valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.database,
            Database::Sqlite {
                data_dir: PathBuf::from("./data")
            }
        );
    }

    #[test]
    fn a_postgres_url_selects_postgres() {
        let config = serve(&["--database-url", "postgres://u@h/db"]).expect("valid");
        assert!(matches!(config.database, Database::Postgres { .. }));
    }

    #[test]
    fn another_database_url_is_refused_with_a_clear_message() {
        let err = serve(&["--database-url", "mysql://x"]).expect_err("refused");
        assert!(err.to_string().contains("postgres://"));
    }

    #[test]
    fn a_bad_listen_address_is_a_parse_error() {
        assert!(Cli::try_parse_from(["walkaround", "serve", "--listen", "nowhere"]).is_err());
    }
}
