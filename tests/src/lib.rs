//! Test support: start the real server on port 0 against a real database.
//!
//! Each test gets its own SQLite data directory, or its own PostgreSQL database created
//! on the server named by `WALKAROUND_TEST_PG` (default: the local trust-auth server at
//! 127.0.0.1:5432), so tests run in parallel without seeing each other's data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use server::config::{Config, Database};
use server::startup::Application;
use sqlx::Connection;
use tokio::sync::oneshot;

pub mod bulk;
pub mod process;
pub mod soak;
pub mod tablet;

// Database names are made here from the process id, a clock and a counter, never from
// input, which is why the DDL below may be assembled with format!.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test of this or any concurrent run uses.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The PostgreSQL server tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("WALKAROUND_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A running server and what the test needs to talk to it.
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The server's state: its store and documents in memory.
    pub state: server::state::AppState,
    /// The database it runs on.
    pub database: Database,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pg_database: Option<String>,
}

impl TestApp {
    /// `http://address/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Logs in as the demo user `name` (with the demo [`PASSWORD`]) and returns a client of
    /// the HTTP API that carries the user's bearer token. Fails the test unless the login
    /// answers 200.
    pub async fn as_user(&self, name: &str) -> ApiClient {
        self.login_as(name, PASSWORD).await
    }

    /// [`TestApp::as_user`] with another password (for users a test adds itself).
    pub async fn login_as(&self, name: &str, password: &str) -> ApiClient {
        let login = tablet::login(self, name, password).await;
        let token = login["access_token"]
            .as_str()
            .expect("a login answers with an access token")
            .to_string();
        ApiClient {
            http: self.client.clone(),
            base: self.url(""),
            token: Some(token),
            login,
        }
    }

    /// A client of the HTTP API that sends `token` (one a test made, took from a tablet,
    /// or forged) as its bearer token.
    pub fn with_token(&self, token: &str) -> ApiClient {
        ApiClient {
            http: self.client.clone(),
            base: self.url(""),
            token: Some(token.to_string()),
            login: serde_json::Value::Null,
        }
    }

    /// A client of the HTTP API that sends no token.
    pub fn anonymous(&self) -> ApiClient {
        ApiClient {
            http: self.client.clone(),
            base: self.url(""),
            token: None,
            login: serde_json::Value::Null,
        }
    }

    /// Stops the server as a signal would and waits for it, keeping its data.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops the server, waits for it, and removes its data directory or database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let Some(db) = self.pg_database.take() else {
            return;
        };
        if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop database if exists \"{db}\" with (force)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The one client tests talk to the HTTP API through: one user's bearer token (or none)
/// on every request. Made by [`TestApp::as_user`], [`TestApp::login_as`],
/// [`TestApp::with_token`] and [`TestApp::anonymous`].
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    login: serde_json::Value,
}

impl ApiClient {
    /// The bearer token this client sends.
    pub fn token(&self) -> &str {
        self.token
            .as_deref()
            .expect("an anonymous client has no token")
    }

    /// The login's answer (tokens, expiry, the user with its sites); `Null` for a client
    /// that did not log in.
    pub fn login(&self) -> &serde_json::Value {
        &self.login
    }

    /// A request of `method` to `path` with this client's token, for a test that needs
    /// more than status and JSON (headers, raw bytes, text).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Calls `method` (`GET`, `POST`, …) on `path`, with a JSON `body` if given. Returns
    /// the status and the JSON answer (`Null` if there is none or it is not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.request(method.parse().expect("an HTTP method"), path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.expect("responds");
        (
            r.status().as_u16(),
            r.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call("GET", path, None).await
    }

    /// `POST path` with a JSON `body`.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call("POST", path, Some(body)).await
    }

    /// `PUT path` with a JSON `body`.
    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call("PUT", path, Some(body)).await
    }

    /// `PATCH path` with a JSON `body`.
    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call("PATCH", path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.call("DELETE", path, None).await
    }
}

/// Starts a server with `config`.
pub async fn spawn_with(config: Config, pg_database: Option<String>) -> TestApp {
    let data_dir = config.data_dir.clone();
    let database = config.database.clone();
    let app = Application::build(config).await.expect("the server starts");
    let address = app.address();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = stopped.await;
            })
            .await;
    });
    TestApp {
        address,
        data_dir,
        client: reqwest::Client::new(),
        state,
        database,
        stop: Some(stop),
        task: Some(task),
        pg_database,
    }
}

/// A fresh data directory under the system's temporary directory.
pub fn temp_data_dir() -> PathBuf {
    std::env::temp_dir().join(unique_name("walkaround-test"))
}

/// Starts a server on SQLite in a fresh data directory.
pub async fn spawn_sqlite() -> TestApp {
    spawn_with(Config::for_tests(temp_data_dir()), None).await
}

/// Starts a server on a fresh PostgreSQL database.
pub async fn spawn_postgres() -> TestApp {
    let (config, name) = postgres_config().await;
    spawn_with(config, Some(name)).await
}

/// The configuration for a fresh PostgreSQL database, and the database's name.
async fn postgres_config() -> (Config, String) {
    let name = unique_name("walkaround_test");
    let mut conn = sqlx::PgConnection::connect(&pg_admin_url())
        .await
        .expect("PostgreSQL is reachable (set WALKAROUND_TEST_PG)");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("creates the test database");
    let admin = pg_admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let mut config = Config::for_tests(temp_data_dir());
    config.database = Database::Postgres {
        url: format!("{base}/{name}"),
    };
    (config, name)
}

/// The database kinds integration tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// A fresh SQLite data directory.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// The demo password.
pub const PASSWORD: &str = server::demo::DEMO_PASSWORD;

/// Starts a server on `db` with the demo workshop (users `office`, `wang`, `li`, `fang`,
/// `yuan`, `zhou`, `chen` at `demo-site`) and a second site `site-b` with its workshop
/// manager `sun`.
pub async fn spawn(db: Db) -> TestApp {
    spawn_tuned(db, |_| {}).await
}

/// [`spawn`], with the configuration changed by `tune` first.
pub async fn spawn_tuned(db: Db, tune: impl FnOnce(&mut Config)) -> TestApp {
    let (mut config, pg_database) = match db {
        Db::Sqlite => (Config::for_tests(temp_data_dir()), None),
        Db::Postgres => {
            let (config, name) = postgres_config().await;
            (config, Some(name))
        }
    };
    tune(&mut config);
    let app = spawn_with(config, pg_database).await;
    let store = &app.state.store;
    server::demo::seed(store).await.expect("seeds the demo");
    let mut other = server::demo::demo_site().expect("demo site");
    other.id = shared::ids::SiteId::parse("site-b").expect("valid");
    other.name = "B店".to_string();
    store.add_site(&other).await.expect("adds site-b");
    let hash = server::auth::hash_password(PASSWORD).expect("hashes");
    store
        .add_user(&server::store::users::UserRecord {
            id: shared::ids::UserId::parse("sun").expect("valid"),
            username: "sun".to_string(),
            display_name: "孙经理".to_string(),
            role: shared::role::Role::WorkshopManager,
            password_hash: hash,
            disabled: false,
            sites: [other.id.clone()].into_iter().collect(),
        })
        .await
        .expect("adds sun");
    app
}

/// A document as stored: every chunk loaded afresh.
pub async fn stored_doc(app: &TestApp, id: &shared::protocol::DocumentId) -> automerge::Automerge {
    let mut doc = automerge::Automerge::new();
    for chunk in app
        .state
        .store
        .doc_chunks(&id.to_string())
        .await
        .expect("reads")
    {
        doc.load_incremental(&chunk).expect("loads");
    }
    doc
}

/// One test module per scenario, with a `sqlite` and a `postgres` test that call the
/// scenario function with each database.
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                super::$scenario(walkaround_tests::Db::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$scenario(walkaround_tests::Db::Postgres).await
            }
        }
    )*};
}

/// The value after `name` on the command line of a benchmark binary, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// The value of the unlabelled metric `name` in a Prometheus text exposition.
pub fn metric(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The unlabelled metric `name` from the `/metrics` of the server at `address`.
pub async fn scrape_metric(address: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    metric(&text, name)
}

/// Items of the walkaround template that every test tablet may answer (workshop rules C1
/// and C6 to C9), in the order the load generators cycle through them.
pub const ANSWER_KEYS: [&str; 8] = [
    "c1-visitors",
    "c9-masking",
    "c8-booth-floor",
    "c7-old-parts",
    "c9-paint-stands",
    "c8-mixing-table",
    "c6-aisles-clear",
    "c7-benches-clean",
];

/// A small deterministic generator for tests and load runs (seeded, so a failing run can
/// be replayed).
pub struct Dice(pub u64);

impl Dice {
    /// A number in `0..sides`.
    pub fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides
    }
}

/// A document as stored in `database`, read through a store of its own (for servers
/// running as separate processes).
pub async fn stored_in(
    database: &server::config::Database,
    id: &shared::protocol::DocumentId,
) -> automerge::Automerge {
    let store = server::store::Store::open(database)
        .await
        .expect("opens the store");
    let mut doc = automerge::Automerge::new();
    for chunk in store.doc_chunks(&id.to_string()).await.expect("reads") {
        doc.load_incremental(&chunk).expect("a stored chunk loads");
    }
    store.close().await;
    doc
}

/// The heads of a document as stored, sorted.
pub async fn stored_heads(
    app: &TestApp,
    id: &shared::protocol::DocumentId,
) -> Vec<automerge::ChangeHash> {
    let mut heads = stored_doc(app, id).await.get_heads();
    heads.sort();
    heads
}

/// The demo site's areas.
pub fn demo_areas() -> Vec<shared::site::Area> {
    server::demo::demo_site().expect("demo site").areas
}

/// Starts `n` instances of the server on one fresh PostgreSQL database, as several
/// processes behind a load balancer would run. The first seeds the demo workshop; stop the
/// others first, the first last (it drops the database).
pub async fn spawn_cluster(n: usize) -> Vec<TestApp> {
    let first = spawn(Db::Postgres).await;
    let Database::Postgres { url } = first.database.clone() else {
        unreachable!("spawn(Db::Postgres) runs on PostgreSQL")
    };
    let mut apps = vec![first];
    for _ in 1..n {
        let mut config = Config::for_tests(temp_data_dir());
        config.database = Database::Postgres { url: url.clone() };
        apps.push(spawn_with(config, None).await);
    }
    apps
}

/// Runs one browser test file of `tests/e2e` (node's test runner, playwright-core and
/// Debian's Chromium) against `app`, and fails with its output unless every test passed.
/// Screenshots land in `target/screenshots/`; what the file reports on `# ` lines is
/// printed (shown with `--nocapture`).
pub async fn run_browser_test(app: &TestApp, file: &str) {
    let has_bundle = server::http::web::ASSETS
        .iter()
        .any(|(name, _, _)| *name == "pkg/client_wasm_bg.wasm");
    assert!(
        has_bundle,
        "this server build has no web bundle: run the tests with `cargo xtask test`"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is needed (cargo xtask test installs it)"
    );
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let (ok, out) = run_node(
        "e2e",
        &["--test", file],
        vec![
            ("WALKAROUND_URL", format!("http://{}", app.address)),
            ("WALKAROUND_PASSWORD", PASSWORD.to_string()),
            ("WALKAROUND_SCREENSHOTS", shots.display().to_string()),
        ],
    )
    .await;
    assert!(
        ok && out.contains("# fail 0"),
        "browser tests failed:\n{out}"
    );
    for line in out
        .lines()
        .filter(|l| l.starts_with("# ") && !l.starts_with("# Subtest"))
    {
        println!("{line}");
    }
}

/// Taken by [`run_node`] for the whole run of one Node process.
static NODE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `node ARGS` in `tests/<dir>` with `envs`, off the async runtime; returns whether
/// it succeeded and everything it printed. The directory's npm packages must be installed
/// (from its committed lockfile).
pub async fn run_node(
    dir: &str,
    args: &[&str],
    envs: Vec<(&'static str, String)>,
) -> (bool, String) {
    let name = dir;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    assert!(
        dir.join("node_modules").is_dir(),
        "run `npm install` in tests/{name} first (cargo xtask test does)"
    );
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    // One Node client (a browser, a set of stock clients) at a time per test binary: the
    // tests of a binary run in parallel, and two Chromiums with their servers on a 2-core
    // machine make each other's timeouts.
    let _turn = NODE_TURN.lock().await;
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .args(&args)
            .current_dir(dir)
            .envs(envs)
            .output()
    })
    .await
    .expect("joins")
    .expect("node runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
