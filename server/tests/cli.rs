//! The `walkaround` binary's setup commands, run as a user would run them.

use std::io::Write;
use std::process::{Command, Stdio};

fn walkaround(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_walkaround"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writes");
    let out = child.wait_with_output().expect("finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn sites_and_users_are_added_from_the_command_line_with_clear_errors() {
    let dir = std::env::temp_dir().join(format!("walkaround-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let (ok, out) = walkaround(
        &dir,
        &[
            "site",
            "add",
            "--id",
            "north",
            "--name",
            "北区店",
            "--bays",
            "3",
            "--key-room",
            "tool-room=工具间",
            "--entrance",
            "east=东门",
        ],
        "",
    );
    assert!(ok, "{out}");
    assert!(out.contains("added site north with 5 areas"), "{out}");

    let (ok, out) = walkaround(
        &dir,
        &["site", "add", "--id", "north", "--name", "again"],
        "",
    );
    assert!(!ok && out.contains("already exists"), "{out}");

    let add = [
        "user",
        "add",
        "--username",
        "zhang",
        "--role",
        "workshop_manager",
        "--site",
        "north",
    ];
    let (ok, out) = walkaround(&dir, &add, "short\n");
    assert!(!ok && out.contains("at least 8 characters"), "{out}");
    let (ok, out) = walkaround(&dir, &add, "a long enough password\n");
    assert!(ok && out.contains("added user zhang"), "{out}");
    let (ok, out) = walkaround(&dir, &add, "a long enough password\n");
    assert!(!ok && out.contains("already exists"), "{out}");

    let (ok, out) = walkaround(
        &dir,
        &[
            "user",
            "add",
            "--username",
            "x",
            "--role",
            "janitor",
            "--site",
            "north",
        ],
        "password123\n",
    );
    assert!(!ok && out.contains("unknown role"), "{out}");
    let (ok, out) = walkaround(
        &dir,
        &[
            "user",
            "add",
            "--username",
            "y",
            "--role",
            "team_lead",
            "--site",
            "south",
        ],
        "password123\n",
    );
    assert!(!ok && out.contains("no site south"), "{out}");

    let (ok, out) = walkaround(&dir, &["user", "disable", "--username", "zhang"], "");
    assert!(ok && out.contains("disabled user zhang"), "{out}");
    let (ok, out) = walkaround(&dir, &["user", "disable", "--username", "nobody"], "");
    assert!(!ok && out.contains("no user nobody"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `walkaround …` command lines of README.md and docs/, as a shell would split them:
/// lines of code blocks (after a pipe, with `\` continuations joined), comments dropped.
fn documented_command_lines() -> Vec<(String, Vec<String>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("reads");
        let mut in_block = false;
        let mut pending = String::new();
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                continue;
            }
            if !in_block {
                continue;
            }
            pending.push_str(line.trim_end_matches('\\'));
            if line.ends_with('\\') {
                pending.push(' ');
                continue;
            }
            let command = std::mem::take(&mut pending);
            let command = command.split(" # ").next().unwrap_or_default();
            let command = command.rsplit("| ").next().unwrap_or_default().trim();
            if command.starts_with("walkaround ") {
                let words = shell_words(command);
                found.push((format!("{}: {command}", file.display()), words));
            }
        }
    }
    found
}

/// Splits a command line as a shell would for these documents: spaces, double quotes, and
/// `$(…)` substitutions standing for one word.
fn shell_words(line: &str) -> Vec<String> {
    let mut line = line.to_string();
    while let Some(start) = line.find("$(") {
        let Some(len) = line[start..].find(')') else {
            break;
        };
        line.replace_range(start..=start + len, "SUBSTITUTED");
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[test]
fn every_documented_command_line_is_one_the_binary_accepts() {
    let lines = documented_command_lines();
    assert!(
        lines.len() >= 8,
        "the docs show the setup commands: {lines:?}"
    );
    for (place, words) in lines {
        if let Err(e) = <server::cli::Cli as clap::Parser>::try_parse_from(&words) {
            panic!("{place}\n{e}");
        }
    }
}

/// Starts `walkaround serve --demo` on `dir`, reads what it prints until it says where it
/// runs, stops it, and returns the text.
fn serve_demo_once(dir: &std::path::Path) -> String {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_walkaround"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut text = String::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("reads");
        text.push_str(&line);
        text.push('\n');
        if line.starts_with("Walkaround is running at") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    text
}

#[test]
fn the_demo_is_seeded_on_an_empty_store_only_and_a_second_run_says_how_to_add_a_user() {
    let dir = std::env::temp_dir().join(format!("walkaround-cli-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = serve_demo_once(&dir);
    assert!(
        first.contains("password: walkaround-demo") && first.contains("wang"),
        "{first}"
    );
    let second = serve_demo_once(&dir);
    assert!(!second.contains("Log in as any of these"), "{second}");
    assert!(second.contains("already has users"), "{second}");
    // The way to add a user names the binary that runs, which `cargo xtask run` does not
    // put on the PATH.
    assert!(
        second.contains(&format!("{} user add", env!("CARGO_BIN_EXE_walkaround"))),
        "{second}"
    );
    assert!(
        second.contains("Walkaround is running at http://127.0.0.1:"),
        "{second}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
