//! Embeds the web app into the binary: the static files of `client-wasm/web/` and the wasm
//! bundle that `cargo xtask wasm` writes (to `$WALKAROUND_WEB_PKG`, by default
//! `target/web/pkg`), and `shell.json`, the list of them the service worker keeps for
//! offline starts. Without a bundle (a plain `cargo build` or `clippy` before any
//! `cargo xtask`), the server still builds and its page says how to build the bundle.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn content_type(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".d.ts") {
        return None;
    }
    Some(match path.extension()?.to_str()? {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "webmanifest" => "application/manifest+json",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf, &'static str)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if path.is_dir() {
            collect(&path, &format!("{prefix}{name}/"), out);
        } else if let Some(ct) = content_type(&path) {
            out.push((format!("{prefix}{name}"), path, ct));
        }
    }
}

/// FNV-1a over every file's name and bytes but the service worker's: a cache name that
/// changes whenever any of them does.
fn fingerprint(files: &[(String, PathBuf, &'static str)]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, path, _) in files {
        if name == "sw.js" {
            continue;
        }
        let bytes = std::fs::read(path).unwrap_or_default();
        for b in name.as_bytes().iter().chain(&bytes) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let web = root.join("client-wasm").join("web");
    let pkg = std::env::var("WALKAROUND_WEB_PKG")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target").join("web").join("pkg"));
    println!("cargo:rerun-if-env-changed=WALKAROUND_WEB_PKG");
    println!("cargo:rerun-if-changed={}", web.display());
    println!("cargo:rerun-if-changed={}", pkg.display());

    let mut files = Vec::new();
    collect(&web, "", &mut files);
    let before = files.len();
    collect(&pkg, "pkg/", &mut files);
    let has_bundle = files.len() > before;
    // The npm packages the app ships, copied beside the bundle by `cargo xtask wasm`.
    if let Some(vendor) = pkg.parent().map(|p| p.join("vendor")) {
        println!("cargo:rerun-if-changed={}", vendor.display());
        collect(&vendor, "vendor/", &mut files);
    }

    // The service worker's list of what to keep for offline starts: every embedded file
    // but the worker itself, so a new module is never missing from it (issue 18).
    let mut shell = vec!["./".to_string()];
    shell.extend(
        files
            .iter()
            .map(|(name, _, _)| name.clone())
            .filter(|name| name != "sw.js"),
    );
    let shell_json = format!(
        "[{}]",
        shell
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let shell_path = out_dir.join("shell.json");
    if let Err(e) = std::fs::write(&shell_path, shell_json) {
        panic!("cannot write {}: {e}", shell_path.display());
    }
    // The service worker names its cache after the app's files, so every release changes
    // its bytes: browsers install it again, which fetches the new list and drops the old
    // cache (a worker whose bytes never change is never installed again).
    let release = fingerprint(&files);
    if let Some(worker) = files.iter_mut().find(|(name, _, _)| name == "sw.js") {
        let text = std::fs::read_to_string(&worker.1)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", worker.1.display()));
        let versioned = text.replace(
            "'walkaround-shell'",
            &format!("'walkaround-shell-{release:016x}'"),
        );
        let path = out_dir.join("sw.js");
        if let Err(e) = std::fs::write(&path, versioned) {
            panic!("cannot write {}: {e}", path.display());
        }
        worker.1 = path;
    }
    files.push(("shell.json".to_string(), shell_path, "application/json"));

    let mut code = String::from(
        "/// The embedded web app: (path, content type, bytes).\npub static ASSETS: &[(&str, &str, &[u8])] = &[\n",
    );
    for (name, path, ct) in &files {
        let _ = writeln!(
            code,
            "    ({name:?}, {ct:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let _ = writeln!(
        code,
        "/// Whether the wasm bundle was built into this binary.\npub const HAS_BUNDLE: bool = {has_bundle};"
    );
    let out = out_dir.join("web_assets.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
