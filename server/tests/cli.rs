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
