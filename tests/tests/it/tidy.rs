//! Tidy checks, as rust-analyzer runs them: what ARCHITECTURE.md promises about the code,
//! checked against the tree on every test run, so the document cannot drift from it.
//!
//! - `shared` has no IO: no IO crate in its dependencies, no file system, network,
//!   process, clock or randomness in its source.
//! - Only `client-wasm` names `JsValue`.
//! - Only the server's `http/` names status codes.
//! - Every module of `server`, `shared` and `client-wasm` opens with a `//!` line saying
//!   what it is for.
//! - Every path the code map names exists.
//! - The web app's JavaScript names no role, no rule of the regulation and no review
//!   status: who may do what, which rule an item breaks and which review steps a
//!   violation offers come from the wasm client.
//!
//! These read files and need no server. A failure names the file and line to fix; fix the
//! code or the document, not the check.

use std::fs;
use std::path::{Path, PathBuf};

/// Crates that do IO (or reach the browser) and must never be a dependency of `shared`.
const IO_CRATES: &[&str] = &[
    "tokio",
    "sqlx",
    "axum",
    "reqwest",
    "hyper",
    "tower",
    "tower-http",
    "mio",
    "wasm-bindgen",
    "js-sys",
    "web-sys",
    "getrandom",
    "rand",
];

/// What in `shared/src` would be IO, a clock or randomness of its own.
const IO_IN_SOURCE: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::io::stdin",
    "std::env",
    "Utc::now",
    "Local::now",
    "SystemTime::now",
    "Instant::now",
];

/// The workspace root (this crate is `tests/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | "node_modules" | ".git") {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `path` relative to the workspace root, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Where `needle` occurs in `text` as a whole name: not inside a longer identifier, so
/// `status::` does not match `review_status::` and `JsValue` not `NotJsValue`.
fn occurrences(text: &str, needle: &str) -> Vec<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(at) = line[from..].find(needle) {
            let start = from + at;
            let end = start + needle.len();
            let before = line[..start].chars().next_back();
            let after = line[end..].chars().next();
            let starts_clean = before.is_none_or(|c| !is_ident(c));
            let ends_clean = needle.ends_with(':') || after.is_none_or(|c| !is_ident(c));
            if starts_clean && ends_clean {
                lines.push(number + 1);
                break;
            }
            from = end;
        }
    }
    lines
}

/// The names of the dependencies a `Cargo.toml` declares for the library (dev- and
/// build-dependencies are not part of what ships).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']');
            // `[dependencies]`, `[target.'cfg(…)'.dependencies]`, `[dependencies.name]`.
            if let Some(name) = header.strip_prefix("dependencies.") {
                names.push(name.to_string());
                in_dependencies = false;
            } else {
                in_dependencies = header == "dependencies" || header.ends_with(".dependencies");
            }
            continue;
        }
        if in_dependencies && !line.is_empty() && !line.starts_with('#') {
            let name = line
                .split(['=', '.'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn shared_depends_on_no_io_crate() {
    let manifest = read(&root().join("shared/Cargo.toml"));
    let found: Vec<String> = dependencies(&manifest)
        .into_iter()
        .filter(|name| IO_CRATES.contains(&name.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "shared/Cargo.toml depends on {found:?}; shared has no IO (ARCHITECTURE.md): \
         do the IO in the server or the wasm client and pass the result in"
    );
    assert!(
        dependencies(&manifest)
            .iter()
            .any(|name| name == "automerge"),
        "the manifest parser found no dependencies in shared/Cargo.toml"
    );
}

#[test]
fn shared_source_does_no_io_and_reads_no_clock() {
    let mut found = Vec::new();
    for file in rust_files(&root().join("shared/src")) {
        let text = read(&file);
        for needle in IO_IN_SOURCE {
            for line in occurrences(&text, needle) {
                found.push(format!("{}:{line}: {needle}", shown(&file)));
            }
        }
    }
    assert!(
        found.is_empty(),
        "shared has no IO, clock or randomness of its own (ARCHITECTURE.md); the caller \
         passes them in:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_client_wasm_names_js_value() {
    let root = root();
    let this_file = root.join("tests/tests/it/tidy.rs");
    let mut found = Vec::new();
    for file in rust_files(&root) {
        if file.starts_with(root.join("client-wasm")) || file == this_file {
            continue;
        }
        for line in occurrences(&read(&file), "JsValue") {
            found.push(format!("{}:{line}", shown(&file)));
        }
    }
    assert!(
        found.is_empty(),
        "only client-wasm knows JsValue (ARCHITECTURE.md):\n{}",
        found.join("\n")
    );
}

/// The web app's JavaScript files.
fn web_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("client-wasm/web"))
        .expect("client-wasm/web is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_web_app_names_no_role_rule_or_review_status() {
    let root = root();
    let mut facts: Vec<String> = shared::role::Role::ALL
        .iter()
        .map(|r| {
            serde_json::to_value(r)
                .expect("a role serializes")
                .as_str()
                .expect("as a string")
                .to_string()
        })
        .collect();
    facts.extend(shared::catalog::rules().iter().map(|r| r.id.to_string()));
    facts.extend(
        shared::review::ReviewStatus::ALL
            .iter()
            .map(|s| s.as_str().to_string()),
    );
    let files = web_files(&root);
    assert!(files.len() >= 3, "the web app's files are found: {files:?}");
    let mut found = Vec::new();
    for file in files {
        let text = read(&file);
        for fact in &facts {
            for quote in ['\'', '"', '`'] {
                for line in occurrences(&text, &format!("{quote}{fact}{quote}")) {
                    found.push(format!("{}:{line}: {fact}", shown(&file)));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the web app's JavaScript holds no rules (ARCHITECTURE.md): ask the wasm client \
         (roles, may, violations, fineTotal, reviewStatuses, reviewActions) instead of naming these:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_http_layer_names_status_codes() {
    let root = root();
    let http = root.join("server/src/http");
    let mut found = Vec::new();
    for dir in ["server/src", "shared/src"] {
        for file in rust_files(&root.join(dir)) {
            if file.starts_with(&http) {
                continue;
            }
            let text = read(&file);
            for needle in ["StatusCode", "status::"] {
                for line in occurrences(&text, needle) {
                    found.push(format!("{}:{line}: {needle}", shown(&file)));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "only server/src/http/ knows status codes (ARCHITECTURE.md); return a typed error \
         and map it in http/error.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_module_opens_with_its_purpose() {
    let root = root();
    let mut found = Vec::new();
    for dir in ["server/src", "shared/src", "client-wasm/src"] {
        for file in rust_files(&root.join(dir)) {
            let text = read(&file);
            if !text.lines().next().is_some_and(|l| l.starts_with("//!")) {
                found.push(shown(&file));
            }
        }
    }
    assert!(
        found.is_empty(),
        "every module opens with a `//!` line saying what it is for:\n{}",
        found.join("\n")
    );
}

/// The text between two headings of a Markdown document.
fn section<'a>(doc: &'a str, heading: &str, next: &str) -> &'a str {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no {heading:?}"));
    let rest = &doc[start..];
    rest.find(next).map_or(rest, |end| &rest[..end])
}

/// The `code spans` of a Markdown text, each with its line number.
fn code_spans(text: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    let mut in_fence = false;
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            spans.push((number + 1, inside.to_string()));
        }
    }
    spans
}

/// A code span that names a file or folder of the tree (not a type, a command or a URL).
fn is_path(span: &str) -> bool {
    const FILE_KINDS: &[&str] = &[".rs", ".md", ".toml", ".js", ".mjs", ".json", ".sql"];
    !span.contains(char::is_whitespace)
        && !span.starts_with('/')
        && !span.contains("::")
        && (span.contains('/') || FILE_KINDS.iter().any(|kind| span.ends_with(kind)))
}

/// The code map's paragraphs: each bullet, or each run of prose lines, with the number of
/// its first line. A folder named in one (`inspection/`) is where its later file names
/// (`read.rs`) are.
fn paragraphs(text: &str) -> Vec<(usize, String)> {
    let mut paragraphs: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (number, line) in text.lines().enumerate() {
        let starts_new = line.starts_with("- ") || line.starts_with('#') || !open;
        if line.trim().is_empty() {
            open = false;
            continue;
        }
        if starts_new {
            paragraphs.push((number + 1, String::new()));
        }
        if let Some((_, paragraph)) = paragraphs.last_mut() {
            paragraph.push_str(line);
            paragraph.push('\n');
        }
        open = !line.starts_with('#');
    }
    paragraphs
}

#[test]
fn every_path_in_the_code_map_exists() {
    let root = root();
    let doc = read(&root.join("ARCHITECTURE.md"));
    let code_map = section(&doc, "## Code map", "\n## ");
    let offset = doc[..doc.find("## Code map").unwrap_or(0)].lines().count();
    let mut missing = Vec::new();
    // Each `### `crate/`` heading says which crate its paragraphs are about.
    let mut crate_dir = root.clone();
    for (first_line, paragraph) in paragraphs(code_map) {
        let spans = code_spans(&paragraph);
        if paragraph.starts_with("### ") {
            // The first span of a heading is its folder; the rest (a binary's name) are
            // not paths.
            if let Some((_, span)) = spans.first() {
                crate_dir = root.join(span.trim_end_matches('/'));
                assert!(
                    crate_dir.is_dir(),
                    "ARCHITECTURE.md:{}: the code map has a section for {span}, which does not \
                     exist",
                    offset + first_line
                );
            }
            continue;
        }
        // Folders a name may sit in: the workspace, the crate, its source, and every
        // folder the paragraph has named so far.
        let mut folders = vec![root.clone(), crate_dir.clone(), crate_dir.join("src")];
        for (line, span) in spans {
            // Not a path; built by `cargo xtask wasm`, not checked in; outside the repository.
            if !is_path(&span) || span.starts_with("target/") || span.starts_with("../") {
                continue;
            }
            let found = folders
                .iter()
                .map(|folder| folder.join(&span))
                .find(|path| path.exists());
            match found {
                Some(path) if path.is_dir() => folders.push(path),
                Some(path) => {
                    if let Some(parent) = path.parent() {
                        folders.push(parent.to_path_buf());
                    }
                }
                None => missing.push(format!(
                    "ARCHITECTURE.md:{}: {span}",
                    offset + first_line + line - 1
                )),
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the code map names paths that do not exist where it says they are; bring it up to \
         date with the tree:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_workspace_path_in_the_document_exists() {
    // Outside the code map too, a path from the workspace root must be there: the
    // invariants name the file that maps errors to status codes, say.
    let root = root();
    let doc = read(&root.join("ARCHITECTURE.md"));
    let tops = [
        "server/",
        "shared/",
        "client-wasm/",
        "tests/",
        "xtask/",
        "docs/",
    ];
    let missing: Vec<String> = code_spans(&doc)
        .into_iter()
        .filter(|(_, span)| is_path(span) && tops.iter().any(|top| span.starts_with(top)))
        .filter(|(_, span)| !root.join(span).exists())
        .map(|(line, span)| format!("ARCHITECTURE.md:{line}: {span}"))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist:\n{}",
        missing.join("\n")
    );
}
