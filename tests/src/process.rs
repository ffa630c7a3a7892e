//! The server as a separate operating-system process, for tests that kill it with SIGKILL
//! (a crash, not a shutdown) and start it again on the same address and store.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `walkaround serve` process.
pub struct ServerProcess {
    exe: PathBuf,
    /// Where it listens; the same after a restart.
    pub address: SocketAddr,
    data_dir: PathBuf,
    database_url: Option<String>,
    child: Option<Child>,
}

/// The resident set size of process `pid`, KiB (0 if it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// A KiB figure of `/proc/<pid>/status` (0 if it cannot be read): `VmRSS`, or its parts
/// `RssAnon` (the heap and stacks), `RssFile` (mapped files: the binary, libraries) and
/// `RssShmem` (shared memory, such as SQLite's WAL index).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time process `pid` has used (user and system), seconds (0 if it cannot be
/// read). Linux reports it in clock ticks of 1/100 s.
pub fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The command name (field 2) may hold spaces; the fields after it do not.
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
            // utime and stime are fields 14 and 15 of the line: 11 and 12 from the state.
            Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

/// The `walkaround-process` binary built beside the running benchmark binary (they are
/// built together with `cargo build --release -p walkaround-tests --bins`).
pub fn server_beside_me() -> PathBuf {
    let exe = std::env::current_exe()
        .expect("own path")
        .with_file_name("walkaround-process");
    assert!(
        exe.exists(),
        "build it first: cargo build --release -p walkaround-tests --bins"
    );
    exe
}

/// A free port on the loopback interface (the listener is closed again at once).
pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

impl ServerProcess {
    /// Starts `exe serve` on a free port with `data_dir` and, if given, a PostgreSQL
    /// database, and waits until `/readyz` answers.
    pub async fn start(
        exe: &Path,
        data_dir: PathBuf,
        database_url: Option<String>,
        demo: bool,
    ) -> ServerProcess {
        let mut process = ServerProcess {
            exe: exe.to_path_buf(),
            address: free_address(),
            data_dir,
            database_url,
            child: None,
        };
        process.launch(demo).await;
        process
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn launch(&mut self, demo: bool) {
        let mut command = Command::new(&self.exe);
        command
            .arg("serve")
            .arg("--listen")
            .arg(self.address.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = &self.database_url {
            command.arg("--database-url").arg(url);
        }
        if demo {
            command.arg("--demo");
        }
        self.child = Some(command.spawn().expect("the server process starts"));
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("the server process exited at start: {status}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server process did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process with SIGKILL: no shutdown, no draining, no flushing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same address and store (after [`ServerProcess::kill`]).
    pub async fn restart(&mut self) {
        self.kill();
        self.launch(false).await;
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
