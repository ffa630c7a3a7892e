//! The command line: `walkaround serve`, `walkaround user add`, `walkaround site add`.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use shared::i18n::Localized;
use shared::ids::{AreaId, SiteId, UserId};
use shared::role::Role;
use shared::site::{Area, AreaKind, Site};

use crate::auth::Password;
use crate::config::{Config, Database};
use crate::demo;
use crate::startup::{Application, StartupError};
use crate::store::Store;
use crate::store::users::UserRecord;
use crate::telemetry::LogFormat;

/// Walkaround: workshop inspections that work offline.
#[derive(Debug, Parser)]
#[command(name = "walkaround", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text or as JSON objects.
    #[arg(long, global = true, env = "WALKAROUND_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sync server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Write a consistent backup of the store while it serves (SQLite: `VACUUM INTO`;
    /// PostgreSQL: `pg_dump`).
    Backup {
        /// The backup file to write; must not exist.
        #[arg(long)]
        out: PathBuf,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Restore a backup into an empty store (a data directory without a database, or a
    /// freshly created PostgreSQL database). Stop the server first.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Where the data lives; shared by every subcommand.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Directory for the SQLite database and other data; created on first run.
    #[arg(long, env = "WALKAROUND_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// A `postgres://` URL to use PostgreSQL instead of the embedded SQLite file.
    #[arg(long, env = "WALKAROUND_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    fn database(&self) -> Result<Database, StartupError> {
        match &self.database_url {
            None => Ok(Database::Sqlite {
                data_dir: self.data_dir.clone(),
            }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Database::Postgres { url: url.clone() })
            }
            Some(_) => Err(StartupError::Config(
                "--database-url must be a postgres:// URL; SQLite is the default and needs no URL"
                    .to_string(),
            )),
        }
    }
}

/// Options of `walkaround serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WALKAROUND_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// On a store without users, create a demo workshop and print its logins.
    #[arg(long)]
    pub demo: bool,
    /// Days of history the demo workshop starts with (about 3.3 inspections a day), for
    /// benchmarks of a site with years of history.
    #[arg(long, default_value_t = demo::HISTORY_DAYS, requires = "demo", value_parser = clap::value_parser!(i64).range(0..=3660))]
    pub demo_days: i64,
    /// Seconds a document may stay unused in memory before it is dropped (it is loaded
    /// again from the store when needed).
    #[arg(long, env = "WALKAROUND_DOC_IDLE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub doc_idle_secs: u64,
    /// Most documents held in memory at once; the least recently used go first.
    #[arg(long, env = "WALKAROUND_MAX_RESIDENT_DOCS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_resident_docs: u64,
    /// Days of submitted inspections a tablet keeps besides those not yet submitted: today
    /// and this many days before it (older ones are fetched when opened).
    #[arg(long, env = "WALKAROUND_DEVICE_DAYS", default_value_t = shared::policy::DEVICE_DAYS, value_parser = clap::value_parser!(u32).range(0..=i64::from(shared::policy::MAX_DEVICE_DAYS)))]
    pub device_days: u32,
}

impl ServeArgs {
    /// Validates the options into a [`Config`].
    pub fn into_config(self) -> Result<Config, StartupError> {
        Ok(Config {
            listen: self.listen,
            database: self.store.database()?,
            data_dir: self.store.data_dir,
            limits: crate::config::SyncLimits::default(),
            memory: crate::config::DocumentMemory::new(
                std::time::Duration::from_secs(self.doc_idle_secs),
                usize::try_from(self.max_resident_docs).unwrap_or(usize::MAX),
            ),
            device_days: self.device_days,
        })
    }
}

/// `walkaround user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        /// Login name (also the user id).
        #[arg(long)]
        username: String,
        /// One of office_admin, workshop_manager, team_lead, service_manager,
        /// parts_manager, customer_service_supervisor, technician.
        #[arg(long)]
        role: String,
        /// A site the user belongs to; repeat for several.
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
        /// Name shown in the app (defaults to the user name).
        #[arg(long)]
        name: Option<String>,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable a user: no more logins, and every session ends at once.
    Disable {
        /// Login name.
        #[arg(long)]
        username: String,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `walkaround site …`
#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Add a site with its bays, rooms and entrances.
    Add {
        /// Site id.
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Number of bays (bay-1 … bay-N).
        #[arg(long, default_value_t = 0)]
        bays: u32,
        /// A room, as `id=名称`; repeat for several.
        #[arg(long = "room")]
        rooms: Vec<String>,
        /// A key room (must be locked), as `id=名称`; repeat for several.
        #[arg(long = "key-room")]
        key_rooms: Vec<String>,
        /// An entrance, as `id=名称`; repeat for several.
        #[arg(long = "entrance")]
        entrances: Vec<String>,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn config_err(e: impl std::fmt::Display) -> StartupError {
    StartupError::Config(e.to_string())
}

fn named_area(spec: &str, kind: AreaKind, key_room: bool) -> Result<Area, StartupError> {
    let (id, name) = spec
        .split_once('=')
        .ok_or_else(|| config_err(format!("{spec:?} must be written id=名称")))?;
    Ok(Area {
        id: AreaId::parse(id).map_err(config_err)?,
        kind,
        name: Localized::new(name, name),
        key_room,
    })
}

async fn open(store: &StoreArgs) -> Result<Store, StartupError> {
    Ok(Store::open(&store.database()?).await?)
}

/// Runs a parsed command line: one function per subcommand.
pub async fn run(cli: Cli) -> Result<(), StartupError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::User(UserCommand::Add {
            username,
            role,
            sites,
            name,
            store,
        }) => user_add(username, &role, sites, name, &store).await,
        Command::User(UserCommand::Disable { username, store }) => {
            user_disable(&username, &store).await
        }
        Command::Site(SiteCommand::Add {
            id,
            name,
            bays,
            rooms,
            key_rooms,
            entrances,
            store,
        }) => {
            let areas = site_areas(bays, &rooms, &key_rooms, &entrances)?;
            site_add(id, name, areas, &store).await
        }
        Command::Backup { out, store } => backup(&out, &store).await,
        Command::Restore { from, store } => restore(&from, &store).await,
    }
}

/// `walkaround serve`: builds the application, seeds the demo workshop when asked (on an
/// empty store only), and serves until stopped.
async fn serve(args: ServeArgs) -> Result<(), StartupError> {
    let (demo, demo_days) = (args.demo, args.demo_days);
    let app = Application::build(args.into_config()?).await?;
    if demo {
        if demo::seed(app.store()).await? {
            demo::seed_history_days(app.store(), chrono::Utc::now(), demo_days).await?;
            println!("{}", demo::logins());
        } else {
            let binary = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "walkaround".to_string());
            println!("{}", demo::existing_store(&binary));
        }
    }
    tracing::info!(address = %app.address(), "walkaround is listening");
    println!("Walkaround is running at http://{}/", app.address());
    app.run_until_stopped().await
}

/// `walkaround user add`: validates the arguments and the password (the first line of
/// standard input) before opening the store, checks that every site exists, and adds the
/// user.
async fn user_add(
    username: String,
    role: &str,
    sites: Vec<String>,
    name: Option<String>,
    store: &StoreArgs,
) -> Result<(), StartupError> {
    let role = Role::parse(role).ok_or_else(|| {
        config_err(format!(
            "unknown role {role:?}; one of: {}",
            Role::ALL.map(Role::as_str).join(", ")
        ))
    })?;
    let id = UserId::parse(username.clone()).map_err(config_err)?;
    let sites = sites
        .into_iter()
        .map(|s| SiteId::parse(s).map_err(config_err))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let password = read_password()?;
    let store = open(store).await?;
    for site in &sites {
        if store.site(site).await?.is_none() {
            return Err(config_err(format!(
                "there is no site {site}; add it first with `walkaround site add`"
            )));
        }
    }
    let password_hash = password.hash().map_err(config_err)?;
    let record = UserRecord {
        id,
        display_name: name.unwrap_or_else(|| username.clone()),
        username: username.clone(),
        role,
        password_hash,
        disabled: false,
        sites,
    };
    match store.add_user(&record).await {
        Err(e) if e.is_unique_violation() => {
            Err(config_err(format!("a user {username} already exists")))
        }
        other => other.map_err(Into::into),
    }?;
    println!("added user {username} ({})", role.as_str());
    Ok(())
}

/// The password of `walkaround user add`: the first line of standard input, without its
/// line ending, held to the one password rule.
fn read_password() -> Result<Password, StartupError> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(config_err)?;
    Password::parse(password.trim_end_matches(['\r', '\n']))
        .map_err(|e| config_err(format!("the password (first line of standard input) {e}")))
}

/// `walkaround user disable`: no more logins, and every session of the user ends.
async fn user_disable(username: &str, store: &StoreArgs) -> Result<(), StartupError> {
    let store = open(store).await?;
    let user = store
        .user_by_username(username)
        .await?
        .ok_or_else(|| config_err(format!("there is no user {username}")))?;
    store.set_user_disabled(user.id.as_str(), true).await?;
    println!("disabled user {username}; its sessions have ended");
    Ok(())
}

/// The areas `walkaround site add` names: bays `bay-1` … `bay-N`, then the rooms, key rooms
/// and entrances in the order given.
fn site_areas(
    bays: u32,
    rooms: &[String],
    key_rooms: &[String],
    entrances: &[String],
) -> Result<Vec<Area>, StartupError> {
    let mut areas = Vec::new();
    for n in 1..=bays {
        areas.push(Area {
            id: AreaId::parse(format!("bay-{n}")).map_err(config_err)?,
            kind: AreaKind::Bay,
            name: Localized::new(format!("{n}号工位"), format!("Bay {n}")),
            key_room: false,
        });
    }
    for r in rooms {
        areas.push(named_area(r, AreaKind::Room, false)?);
    }
    for r in key_rooms {
        areas.push(named_area(r, AreaKind::Room, true)?);
    }
    for e in entrances {
        areas.push(named_area(e, AreaKind::Entrance, false)?);
    }
    Ok(areas)
}

/// `walkaround site add`: adds the site with its areas.
async fn site_add(
    id: String,
    name: String,
    areas: Vec<Area>,
    store: &StoreArgs,
) -> Result<(), StartupError> {
    let site = Site {
        id: SiteId::parse(id.clone()).map_err(config_err)?,
        name,
        areas,
    };
    let store = open(store).await?;
    match store.add_site(&site).await {
        Err(e) if e.is_unique_violation() => Err(config_err(format!(
            "a site {id} (or a duplicate area) already exists"
        ))),
        other => other.map_err(Into::into),
    }?;
    println!("added site {id} with {} areas", site.areas.len());
    Ok(())
}

/// `walkaround backup`: a consistent backup of the store while it serves.
async fn backup(out: &Path, store: &StoreArgs) -> Result<(), StartupError> {
    crate::backup::backup(&store.database()?, out)
        .await
        .map_err(config_err)?;
    println!("backup written to {}", out.display());
    Ok(())
}

/// `walkaround restore`: a backup into an empty store.
async fn restore(from: &Path, store: &StoreArgs) -> Result<(), StartupError> {
    crate::backup::restore(&store.database()?, from)
        .await
        .map_err(config_err)?;
    println!("restored {}", from.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<Config, StartupError> {
        let cli = Cli::try_parse_from(["walkaround", "serve"].iter().chain(args)).expect("parses");
        let Command::Serve(serve) = cli.command else {
            panic!("serve")
        };
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

    #[test]
    fn user_add_requires_a_site() {
        assert!(
            Cli::try_parse_from([
                "walkaround",
                "user",
                "add",
                "--username",
                "u",
                "--role",
                "team_lead"
            ])
            .is_err()
        );
    }

    #[test]
    fn areas_are_written_id_equals_name() {
        let room = named_area("tool-room=工具间", AreaKind::Room, true).expect("valid");
        assert_eq!(
            (room.id.as_str(), room.name.zh.as_str(), room.key_room),
            ("tool-room", "工具间", true)
        );
        assert!(named_area("no-name", AreaKind::Room, false).is_err());
        assert!(named_area("bad id=x", AreaKind::Room, false).is_err());
    }
}
