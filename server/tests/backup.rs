//! Backup and restore as `docs/OPERATIONS.md` tells an operator to do them, against the real
//! server binary: a backup taken while the server runs holds everything written before it
//! and nothing after; restored (SQLite: the copy put where the database lives; PostgreSQL:
//! `pg_dump` / `pg_restore` into an empty database), the server starts on it and serves it —
//! the admin logs in with the same password and finds the same agents. A backup never
//! overwrites a file, and `server backup` on PostgreSQL points to `pg_dump`.

mod support;

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use support::{ADMIN_PASSWORD, Client, PgDatabase, ServerProc};

/// Runs `program args…` and returns (success, stdout and stderr).
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .env("DIALER_CONFIG", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn admin(url: &str) -> Client {
    let mut c = Client::new(url);
    let res = c.login("admin", ADMIN_PASSWORD).await;
    assert!(res.status.is_redirection() || res.status == StatusCode::OK, "{}", res.body);
    c
}

async fn add_agent(c: &Client, name: &str) {
    let res =
        c.call("admin/agents/create", &[("username", name), ("password", "agent-pass-1")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

async fn agents(c: &Client) -> Vec<String> {
    let res = c.call("admin/agents/list", &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let mut names: Vec<String> = res
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["username"].as_str().map(String::from))
        .collect();
    names.sort();
    names
}

/// Before the backup: two agents; after it: a third, which the restore must not have.
async fn write_around_backup(url: &str, backup: impl FnOnce()) {
    let c = admin(url).await;
    add_agent(&c, "before1").await;
    add_agent(&c, "before2").await;
    backup();
    add_agent(&c, "after1").await;
    assert_eq!(agents(&c).await, ["after1", "before1", "before2"]);
}

async fn restored_serves_the_backup(dir: &Path, url: &str) {
    let server = ServerProc::start(dir, url, &dir.join("restored.log")).await;
    let c = admin(&server.url).await;
    assert_eq!(agents(&c).await, ["before1", "before2"], "what the backup held, and only that");
    // The restored database takes writes.
    add_agent(&c, "later1").await;
    assert_eq!(agents(&c).await, ["before1", "before2", "later1"]);
    server.kill();
}

#[tokio::test]
async fn sqlite_backup_while_serving_restores_to_that_moment() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let db_url = format!("sqlite://{}/dialer.db", live.display());
    let server = ServerProc::start(&live, &db_url, &dir.path().join("live.log")).await;
    let copy = dir.path().join("dialer-backup.db");
    let copy_arg = copy.display().to_string();
    let bin = env!("CARGO_BIN_EXE_server");
    write_around_backup(&server.url, || {
        let (ok, out) = run(bin, &["backup", &copy_arg], &[("DATABASE_URL", &db_url)]);
        assert!(ok, "server backup: {out}");
        assert!(out.contains("database copied to"), "{out}");
    })
    .await;
    // A second backup to the same file is refused, and the file is untouched.
    let before = std::fs::metadata(&copy).unwrap().len();
    let (ok, out) = run(bin, &["backup", &copy_arg], &[("DATABASE_URL", &db_url)]);
    assert!(!ok, "a backup over an existing file is refused");
    assert!(out.contains("exists already"), "{out}");
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), before);
    server.kill();

    // Restore: the copy becomes the database of a new installation.
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&copy, restored.join("dialer.db")).unwrap();
    let url = format!("sqlite://{}/dialer.db", restored.display());
    restored_serves_the_backup(&restored, &url).await;
}

#[tokio::test]
async fn postgres_dump_while_serving_restores_to_that_moment() {
    let dir = tempfile::tempdir().unwrap();
    let live = PgDatabase::create().await;
    let server = ServerProc::start(dir.path(), &live.url, &dir.path().join("live.log")).await;
    let dump = dir.path().join("dialer.dump");
    let dump_arg = dump.display().to_string();
    write_around_backup(&server.url, || {
        let (ok, out) = run("pg_dump", &["--format=custom", "--file", &dump_arg, &live.url], &[]);
        assert!(ok, "pg_dump: {out}");
    })
    .await;
    // The server's own backup command points to pg_dump.
    let other = dir.path().join("not-made.db").display().to_string();
    let (ok, out) =
        run(env!("CARGO_BIN_EXE_server"), &["backup", &other], &[("DATABASE_URL", &live.url)]);
    assert!(!ok && out.contains("pg_dump"), "{out}");
    server.kill();

    let restored = PgDatabase::create().await;
    let (ok, out) = run(
        "pg_restore",
        &["--no-owner", "--exit-on-error", "--dbname", &restored.url, &dump_arg],
        &[],
    );
    assert!(ok, "pg_restore: {out}");
    restored_serves_the_backup(dir.path(), &restored.url).await;
}
