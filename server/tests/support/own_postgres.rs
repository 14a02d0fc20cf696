//! A PostgreSQL server of the test's own — its own data directory and port, started from the
//! distribution's binaries — for tests that stop and restart the database itself (the shared
//! test server runs every other test's databases: it is never restarted).
//!
//! PostgreSQL refuses to run as root: when the tests do, its commands run as the `postgres`
//! user the distribution's package created, on a directory handed to that user. Stopped
//! (immediately) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl OwnPostgres {
    /// Creates a cluster (trust authentication, loopback only) and starts it.
    pub fn start() -> OwnPostgres {
        let bin = binaries();
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres = super::is_root();
        if as_postgres {
            let status = Command::new("chown").arg("postgres:").arg(dir.path()).status();
            assert!(status.is_ok_and(|s| s.success()), "handing the data directory to postgres");
        }
        let port = super::free_tcp_port();
        let pg = OwnPostgres {
            bin,
            data: dir.path().join("data"),
            log: dir.path().join("postgres.log"),
            port,
            as_postgres,
            _dir: dir,
        };
        let data = pg.data.display().to_string();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        );
        pg.control(&["start"]);
        pg
    }

    /// The `postgres` database of this server.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, as a crash would (no checkpoint: it recovers from its log
    /// when started again); sessions are cut.
    pub fn crash(&self) {
        self.control(&["stop", "-m", "immediate"]);
    }

    /// Starts it again, on the same port and data, and waits until it takes connections.
    pub fn start_again(&self) {
        self.control(&["start"]);
    }

    /// `pg_ctl` with the server's options, waiting for it to finish.
    fn control(&self, what: &[&str]) {
        let (data, log) = (self.data.display().to_string(), self.log.display().to_string());
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=60",
            self.port,
            self.data.display()
        );
        let mut args = vec!["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "30"];
        args.extend_from_slice(what);
        self.run("pg_ctl", &args);
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let output = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&program).args(args).output()
        } else {
            Command::new(&program).args(args).output()
        };
        let output = output.unwrap_or_else(|e| panic!("{}: {e}", program.display()));
        assert!(
            output.status.success(),
            "{} {args:?}: {}{}\n{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let program = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "stop", "-m", "immediate", "-w"];
        let _ = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&program).args(args).output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

/// The newest PostgreSQL's binaries the distribution installed.
fn binaries() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|v| v.parse::<u32>().ok()))
        .max();
    match newest {
        Some(v) => root.join(v.to_string()).join("bin"),
        None => panic!(
            "PostgreSQL's server binaries are required under {} (Debian package postgresql); \
             scripts/test.sh installs them",
            root.display()
        ),
    }
}
