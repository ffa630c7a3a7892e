//! Build automation, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! - `test`: everything the README promises: the wasm bundle, the web app's type check,
//!   the bundle's wasm-bindgen tests and its JavaScript API tests in Node, then
//!   every test of the workspace (unit, property, integration on SQLite and PostgreSQL).
//! - `wasm`: builds `client-wasm` for the browser into `target/web/pkg`, optimizes it with
//!   `wasm-opt` (npm's `binaryen`, pinned in `xtask/wasm-opt/`) and reports its size.
//! - `typecheck`: builds the bundle and type-checks the web app's JavaScript
//!   (`client-wasm/web/`, JSDoc) against its generated `.d.ts` with `tsc --checkJs`
//!   (npm's `typescript`, pinned in `client-wasm/package.json`).
//! - `run`: builds and runs the server with the demo workshop (`walkaround serve --demo`:
//!   seeded only on an empty store), passing on any options, with or without a `--`.
//! - `test` first installs what the tests need and the machine lacks (Chromium and CJK
//!   fonts from the distribution, as root) and starts a stopped local PostgreSQL.
//!
//! It lives in Rust rather than shell so it runs the same on every machine and fails with
//! a message that says which step broke.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T> = std::result::Result<T, String>;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("wasm") => wasm().map(drop),
        Some("typecheck") => wasm().and_then(|pkg| typecheck(&pkg)),
        Some("run") => run(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        _ => Err(
            "usage: cargo xtask <test | wasm | typecheck | run [--] [serve options] | fuzz [seconds per target]>"
                .to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` as cargo itself does.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
    // The server embeds the web app's bundle from here (see server/build.rs).
    cmd.current_dir(root())
        .env("WALKAROUND_WEB_PKG", target_dir().join("web").join("pkg"));
    cmd
}

fn status(mut cmd: Command, what: &str) -> Result<()> {
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: failed ({status})"))
    }
}

/// rustup's auto-install is off on the project's machines, so `rust-toolchain.toml` alone
/// does not bring the wasm32 target; adding it is idempotent and quick once present.
fn ensure_wasm_target() -> Result<()> {
    let mut cmd = Command::new("rustup");
    cmd.current_dir(root()).args(["target", "add", WASM_TARGET]);
    status(cmd, "rustup target add wasm32-unknown-unknown")
}

/// Builds the browser bundle and returns its directory.
fn wasm() -> Result<PathBuf> {
    ensure_wasm_target()?;
    let mut cmd = cargo();
    cmd.args([
        "build",
        "-p",
        "client-wasm",
        "--target",
        WASM_TARGET,
        "--profile",
        "wasm",
    ]);
    status(cmd, "cargo build client-wasm for wasm32")?;
    let input = target_dir()
        .join(WASM_TARGET)
        .join("wasm")
        .join("client_wasm.wasm");
    let out = target_dir().join("web").join("pkg");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    eprintln!("xtask: wasm-bindgen → {}", out.display());
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&input)
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e}"))?
        .typescript(true)
        .generate(&out)
        .map_err(|e| format!("wasm-bindgen: {e}"))?;
    let raw = std::fs::metadata(&input).map_err(|e| e.to_string())?.len();
    let bound = out.join("client_wasm_bg.wasm");
    let bytes =
        std::fs::read(&bound).map_err(|e| format!("cannot read {}: {e}", bound.display()))?;
    let optimized = wasm_opt(&bytes)?;
    std::fs::write(&bound, &optimized)
        .map_err(|e| format!("cannot write {}: {e}", bound.display()))?;
    eprintln!(
        "xtask: client-wasm: {raw} bytes from rustc; after wasm-bindgen {} bytes ({} gzip); \
         after wasm-opt {} bytes ({} gzip)",
        bytes.len(),
        gzip_len(&bytes)?,
        optimized.len(),
        gzip_len(&optimized)?,
    );
    vendor()?;
    Ok(out)
}

/// The npm packages the web app ships, each `(package, file in it, name served under
/// `vendor/`)`, with the `.d.ts` beside it for the type check. Pinned by
/// `client-wasm/package-lock.json`.
const VENDORED: [(&str, &str, &str); 1] = [("morphdom", "dist/morphdom-esm.js", "morphdom")];

/// Installs the web app's pinned npm packages (`client-wasm/package.json`) and copies the
/// ES modules it ships into `target/web/vendor/`, which the server embeds beside `pkg/`.
fn vendor() -> Result<()> {
    let dir = typecheck_dir();
    let mut npm = Command::new("npm");
    npm.current_dir(&dir)
        .args(["install", "--no-audit", "--no-fund"]);
    status(npm, "npm install in client-wasm (the web app's packages)")?;
    let out = target_dir().join("web").join("vendor");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for (package, file, name) in VENDORED {
        let from = dir.join("node_modules").join(package);
        for (source, target) in [
            (from.join(file), out.join(format!("{name}.js"))),
            (from.join("index.d.ts"), out.join(format!("{name}.d.ts"))),
        ] {
            std::fs::copy(&source, &target).map_err(|e| {
                format!(
                    "cannot copy {} to {}: {e}",
                    source.display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

/// The size of `bytes` gzipped at the best level, as a server would send them.
fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).map_err(|e| e.to_string())?;
    Ok(gz.finish().map_err(|e| e.to_string())?.len())
}

/// What `wasm-opt` is told: optimize for size, and exactly the wasm features rustc's
/// `wasm32-unknown-unknown` target emits and every browser the app supports runs
/// (wasm-bindgen's externref table needs reference types). Naming them rather than
/// trusting binaryen's defaults makes a feature the bundle starts to use fail here, at
/// validation, instead of in a browser.
const WASM_OPT_FLAGS: [&str; 8] = [
    "-Oz",
    "--mvp-features",
    "--enable-mutable-globals",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Runs `wasm-opt` over the bound module and returns the optimized bytes. It is npm's
/// `binaryen`, pinned by `xtask/wasm-opt/package-lock.json` (Debian's binaryen 108 writes
/// a bundle that fails to load). It takes about a minute on two cores, so the last input
/// and output are kept in `target/web/wasm-opt/` and an unchanged input is not optimized
/// again.
fn wasm_opt(input: &[u8]) -> Result<Vec<u8>> {
    let binary = ensure_wasm_opt()?;
    let cache = target_dir().join("web").join("wasm-opt");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let (cached_in, cached_out, cached_key) = (
        cache.join("input.wasm"),
        cache.join("output.wasm"),
        cache.join("key"),
    );
    let key = format!("{} {}", installed_binaryen()?, WASM_OPT_FLAGS.join(" "));
    let same_input = std::fs::read(&cached_in).is_ok_and(|old| old == input);
    let same_key = std::fs::read_to_string(&cached_key).is_ok_and(|old| old == key);
    if same_input
        && same_key
        && let Ok(out) = std::fs::read(&cached_out)
    {
        eprintln!("xtask: wasm-opt: input unchanged, the optimized module is reused");
        return Ok(out);
    }
    // Work on files of this process's own (two builds may run at once), keep them as the
    // cache only once done, and write the key last: an interrupted run never leaves a pair
    // that looks valid.
    let pid = std::process::id();
    let (work_in, work_out) = (
        cache.join(format!("input.{pid}.wasm")),
        cache.join(format!("output.{pid}.wasm")),
    );
    std::fs::write(&work_in, input).map_err(|e| format!("{}: {e}", work_in.display()))?;
    let mut cmd = Command::new(&binary);
    cmd.current_dir(root())
        .args(WASM_OPT_FLAGS)
        .arg(&work_in)
        .arg("-o")
        .arg(&work_out);
    let ran = status(cmd, &format!("wasm-opt {}", WASM_OPT_FLAGS.join(" ")));
    let out = ran.and_then(|()| {
        std::fs::read(&work_out).map_err(|e| format!("{}: {e}", work_out.display()))
    });
    let _ = std::fs::remove_file(&cached_key);
    let kept = std::fs::rename(&work_in, &cached_in).is_ok()
        && out.is_ok()
        && std::fs::rename(&work_out, &cached_out).is_ok();
    if kept {
        std::fs::write(&cached_key, key).map_err(|e| format!("{}: {e}", cached_key.display()))?;
    }
    let _ = std::fs::remove_file(&work_in);
    let _ = std::fs::remove_file(&work_out);
    out
}

/// The folder of the pinned `binaryen` npm package (`package.json` and its lockfile).
fn wasm_opt_dir() -> PathBuf {
    root().join("xtask").join("wasm-opt")
}

/// Installs the pinned `binaryen` with npm unless that version is installed already, and
/// returns the path of its `wasm-opt`.
fn ensure_wasm_opt() -> Result<PathBuf> {
    let dir = wasm_opt_dir();
    let lock = dir.join("package-lock.json");
    let lock = std::fs::read_to_string(&lock).map_err(|e| format!("{}: {e}", lock.display()))?;
    let pinned = locked_version(&lock, "binaryen")
        .ok_or("xtask/wasm-opt/package-lock.json does not pin binaryen")?
        .to_string();
    let binary = dir.join("node_modules").join(".bin").join("wasm-opt");
    if binary.exists() && installed_binaryen().is_ok_and(|v| v == pinned) {
        return Ok(binary);
    }
    let mut npm = Command::new("npm");
    npm.current_dir(&dir)
        .args(["install", "--no-audit", "--no-fund"]);
    status(
        npm,
        &format!("npm install binaryen {pinned} in xtask/wasm-opt"),
    )?;
    Ok(binary)
}

/// The version of `binaryen` npm installed in `xtask/wasm-opt/node_modules`, from the
/// lockfile npm keeps there.
fn installed_binaryen() -> Result<String> {
    let path = wasm_opt_dir()
        .join("node_modules")
        .join(".package-lock.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    locked_version(&text, "binaryen")
        .map(str::to_string)
        .ok_or_else(|| format!("{} lists no binaryen", path.display()))
}

/// The `version` of the `node_modules/{package}` entry of an npm lockfile.
fn locked_version<'a>(lockfile: &'a str, package: &str) -> Option<&'a str> {
    let entry = &lockfile[lockfile.find(&format!("\"node_modules/{package}\""))?..];
    let field = &entry[entry.find("\"version\"")? + "\"version\"".len()..];
    let start = field.find('"')? + 1;
    let len = field[start..].find('"')?;
    Some(&field[start..start + len])
}

/// The folder of the web app's type check: `package.json` pins `typescript`,
/// `tsconfig.json` checks the page's scripts and `tsconfig.sw.json` the service worker.
fn typecheck_dir() -> PathBuf {
    root().join("client-wasm")
}

/// Type-checks the web app's JavaScript with `tsc` (JSDoc types, `checkJs`, no output)
/// against the bundle in `pkg`, so a call that does not fit the generated
/// `client_wasm.d.ts` fails here rather than in a browser. The committed
/// `client-wasm/tsconfig.json` finds `./pkg/client_wasm.js` under the default
/// `target/web`; the one written here extends it with the bundle's real folder.
fn typecheck(pkg: &Path) -> Result<()> {
    let dir = typecheck_dir();
    let bundle_root = pkg
        .parent()
        .ok_or_else(|| format!("{} has no parent folder", pkg.display()))?;
    let config_dir = target_dir().join("web").join("typecheck");
    std::fs::create_dir_all(&config_dir)
        .map_err(|e| format!("cannot create {}: {e}", config_dir.display()))?;
    let config = config_dir.join("tsconfig.json");
    let text = format!(
        "{{\n  \"extends\": {},\n  \"compilerOptions\": {{ \"rootDirs\": [{}, {}] }}\n}}\n",
        json_path(&dir.join("tsconfig.json"))?,
        json_path(&dir.join("web"))?,
        json_path(bundle_root)?,
    );
    std::fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let tsc = dir
        .join("node_modules")
        .join("typescript")
        .join("bin")
        .join("tsc");
    for (project, what) in [
        (config, "the page's scripts against client_wasm.d.ts"),
        (dir.join("tsconfig.sw.json"), "the service worker"),
    ] {
        let mut cmd = Command::new("node");
        cmd.current_dir(&dir).arg(&tsc).arg("-p").arg(&project);
        status(cmd, &format!("tsc --checkJs: {what}"))?;
    }
    Ok(())
}

/// A path as a JSON string.
fn json_path(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))?;
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// The wasm tests run under `wasm-bindgen-test-runner`, which must match the
/// `wasm-bindgen` crate's version exactly; installed once per machine (about 3 minutes;
/// `--locked` does not resolve on the registry here).
fn ensure_test_runner() -> Result<()> {
    let installed = Command::new("wasm-bindgen-test-runner")
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(WASM_BINDGEN_VERSION));
    if installed {
        return Ok(());
    }
    let mut cmd = cargo();
    cmd.args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        WASM_BINDGEN_VERSION,
    ]);
    status(
        cmd,
        "cargo install wasm-bindgen-cli (for wasm-bindgen-test-runner)",
    )
}

const WASM_BINDGEN_VERSION: &str = "0.2.130";

fn test() -> Result<()> {
    ensure_browser()?;
    ensure_postgres()?;
    let pkg = wasm()?;
    typecheck(&pkg)?;
    ensure_test_runner()?;
    let mut wasm_tests = cargo();
    wasm_tests.args(["test", "-p", "client-wasm", "--target", WASM_TARGET]);
    status(
        wasm_tests,
        "cargo test client-wasm on wasm32 (wasm-bindgen-test, in Node)",
    )?;
    let mut node = Command::new("node");
    node.current_dir(root())
        .env("WALKAROUND_WASM_PKG", &pkg)
        .args(["--test", "tests/wasm/"]);
    status(node, "node --test tests/wasm (the browser bundle, in Node)")?;
    // The stock automerge-repo clients of the interop test and of the benchmark harness
    // (with the reference server) and playwright-core for the browser tests, pinned by
    // their committed lockfiles. `npm install` rather than
    // `npm ci`: npm 11 leaves the optional platform packages of cbor-extract (a native
    // speed-up whose install script it does not run) out of the lockfile and then
    // `npm ci` refuses that same lockfile.
    for dir in ["interop", "e2e", "bench"] {
        let mut npm = Command::new("npm");
        npm.current_dir(root().join("tests").join(dir)).args([
            "install",
            "--no-audit",
            "--no-fund",
        ]);
        status(npm, &format!("npm install in tests/{dir}"))?;
    }
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--all-targets"]);
    status(cmd, "cargo test --workspace")?;
    // The README test runs README.md's own run command, as a newcomer would, and uses the
    // product through Chromium with a login that command printed.
    let mut readme = Command::new("node");
    readme
        .current_dir(root())
        .args(["--test", "tests/e2e/readme.test.mjs"]);
    status(
        readme,
        "node --test tests/e2e/readme.test.mjs (README.md's run command)",
    )?;
    fuzz(&["--ci".to_string()])
}

/// The fuzz targets of `fuzz/`, each for `seconds` (default 10) from the committed corpus.
const FUZZ_TARGETS: [&str; 5] = [
    "wire_decode",
    "protocol_session",
    "document_load",
    "change_policy",
    "template_json",
];
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Runs every fuzz target for as long as asked (the documented long run), or with `--ci`
/// for 10 seconds each. The targets that reach automerge put the server's chunk guard in
/// front of it, as the server does (automerge 0.12 alone aborts on a few hostile inputs).
/// cargo-fuzz needs libFuzzer's `-Z` flags: `RUSTC_BOOTSTRAP=1` lets the pinned stable
/// toolchain accept them (no nightly toolchain can be fetched here), and `--sanitizer none`
/// because stable ships no sanitizer runtimes. Panics and out-of-memory still count.
fn fuzz(args: &[String]) -> Result<()> {
    let ci = args.first().is_some_and(|a| a == "--ci");
    let seconds: u64 = match args.first().filter(|_| !ci) {
        Some(s) => s
            .parse()
            .map_err(|_| format!("seconds per target must be a number, not {s}"))?,
        None => 10,
    };
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(CARGO_FUZZ_VERSION));
    if !installed {
        let mut cmd = cargo();
        cmd.args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ]);
        status(cmd, "cargo install cargo-fuzz")?;
    }
    for target in FUZZ_TARGETS {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
        cmd.current_dir(root().join("fuzz"))
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("CARGO_TARGET_DIR")
            .args(["fuzz", "run", "--sanitizer", "none", target]);
        if ci {
            // New inputs go to a scratch directory, so a test run leaves the committed
            // corpus as it was; a long run grows the committed corpus on purpose.
            let scratch = target_dir().join("fuzz-corpus").join(target);
            std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
            cmd.arg(scratch)
                .arg(root().join("fuzz").join("corpus").join(target));
        }
        cmd.arg("--")
            .arg("-rss_limit_mb=2048")
            .arg("-print_final_stats=1");
        cmd.arg(format!("-max_total_time={seconds}"));
        status(cmd, &format!("cargo fuzz run {target} ({seconds} s)"))?;
    }
    Ok(())
}

/// `cargo xtask run [--] [serve options]`: the product's front door. Builds the web app and
/// the server (release) and runs `walkaround serve --demo` in the caller's directory, so an
/// empty store gets the demo workshop and its logins, and a store with users is left as it
/// is. Options go on to `walkaround serve`, with or without a `--` before them.
fn run(args: &[String]) -> Result<()> {
    let args = serve_args(args);
    let help = args.iter().any(|a| a == "--help" || a == "-h");
    if help {
        println!(
            "cargo xtask run [--] [OPTIONS]: builds and runs Walkaround with the demo workshop \
             on an empty store.\nEvery option of `walkaround serve` is accepted:\n"
        );
    }
    wasm()?;
    let mut build = cargo();
    build.args(["build", "--release", "-p", "server", "--bin", "walkaround"]);
    status(build, "cargo build --release walkaround")?;
    let binary = target_dir().join("release").join("walkaround");
    let mut serve = Command::new(&binary);
    serve.arg("serve");
    if !help && !args.iter().any(|a| a == "--demo") {
        serve.arg("--demo");
    }
    serve.args(&args);
    status(serve, &format!("{} serve", binary.display()))
}

/// The options for `walkaround serve`: everything after `run`, less one leading `--`
/// (`cargo xtask run -- --listen …` and `cargo xtask run --listen …` mean the same).
fn serve_args(args: &[String]) -> Vec<String> {
    match args.split_first() {
        Some((first, rest)) if first == "--" => rest.to_vec(),
        _ => args.to_vec(),
    }
}

/// True when this process runs as root (it may then install packages).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The browser tests drive Debian's Chromium; the CJK fonts make the Chinese screens and
/// screenshots legible. Installed from the distribution's packages when missing.
const BROWSER_PACKAGES: [&str; 2] = ["chromium", "fonts-wqy-microhei"];

fn ensure_browser() -> Result<()> {
    let chromium = Path::new("/usr/bin/chromium").exists();
    let fonts = Command::new("fc-list")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("WenQuanYi"));
    if chromium && fonts {
        return Ok(());
    }
    let packages = BROWSER_PACKAGES.join(" ");
    if !is_root() {
        return Err(format!(
            "Chromium and the CJK fonts are needed by the browser tests: run `sudo apt-get install -y {packages}` first"
        ));
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    status(update, "apt-get update")?;
    let mut install = Command::new("apt-get");
    install
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-qq"])
        .args(BROWSER_PACKAGES);
    status(install, &format!("apt-get install {packages}"))
}

/// The integration tests need PostgreSQL at 127.0.0.1:5432 (or `WALKAROUND_TEST_PG`);
/// a local cluster that is installed but stopped is started.
fn ensure_postgres() -> Result<()> {
    if std::env::var_os("WALKAROUND_TEST_PG").is_some() {
        return Ok(());
    }
    let ready = || {
        Command::new("pg_isready")
            .args(["-h", "127.0.0.1", "-p", "5432", "-q"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready() {
        return Ok(());
    }
    let versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let Some(version) = versions.iter().max() else {
        return Err(
            "PostgreSQL is not running at 127.0.0.1:5432 and no local cluster is installed: \
             install PostgreSQL or set WALKAROUND_TEST_PG to a server's URL"
                .to_string(),
        );
    };
    if !is_root() {
        return Err(format!(
            "PostgreSQL is stopped: run `sudo pg_ctlcluster {version} main start` first"
        ));
    }
    let mut start = Command::new("pg_ctlcluster");
    start.args(["--skip-systemctl-redirect", version, "main", "start"]);
    status(start, &format!("pg_ctlcluster {version} main start"))?;
    for _ in 0..30 {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    Err("PostgreSQL was started but does not accept connections at 127.0.0.1:5432".to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{json_path, locked_version, serve_args, typecheck_dir, wasm_opt_dir};

    #[test]
    fn the_committed_lockfile_pins_binaryen() {
        let lock = std::fs::read_to_string(wasm_opt_dir().join("package-lock.json"))
            .expect("xtask/wasm-opt/package-lock.json is committed");
        let version = locked_version(&lock, "binaryen").expect("the lockfile pins binaryen");
        assert!(
            version.split('.').all(|part| part.parse::<u32>().is_ok()),
            "{version}"
        );
        let manifest = std::fs::read_to_string(wasm_opt_dir().join("package.json"))
            .expect("xtask/wasm-opt/package.json is committed");
        assert!(
            manifest.contains(&format!("\"binaryen\": \"{version}\"")),
            "package.json pins the version its lockfile holds"
        );
    }

    #[test]
    fn the_committed_lockfile_pins_typescript() {
        let lock = std::fs::read_to_string(typecheck_dir().join("package-lock.json"))
            .expect("client-wasm/package-lock.json is committed");
        let version = locked_version(&lock, "typescript").expect("the lockfile pins typescript");
        let manifest = std::fs::read_to_string(typecheck_dir().join("package.json"))
            .expect("client-wasm/package.json is committed");
        assert!(
            manifest.contains(&format!("\"typescript\": \"{version}\"")),
            "package.json pins the version its lockfile holds ({version})"
        );
    }

    #[test]
    fn paths_are_written_as_json_strings() {
        assert_eq!(
            json_path(Path::new("/work/a \"b\"\\c\n")).as_deref(),
            Ok("\"/work/a \\\"b\\\"\\\\c\\u000a\"")
        );
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_string()).collect()
    }

    #[test]
    fn options_are_passed_on_with_or_without_a_separator() {
        let want = strings(&[
            "--listen",
            "0.0.0.0:8080",
            "--data-dir",
            "/var/lib/walkaround",
        ]);
        assert_eq!(serve_args(&want), want);
        let mut with = strings(&["--"]);
        with.extend(want.clone());
        assert_eq!(serve_args(&with), want);
        assert!(serve_args(&[]).is_empty());
    }
}
