//! The `server` binary: load the configuration, start, print where to log in, serve until
//! Ctrl-C or SIGTERM. `server reset-password USER` gives a user a new password instead;
//! `server backup FILE` copies a SQLite database, also while a server runs on it; `server
//! demo-trunk GATEWAY_SIP…` runs the demo trunk for servers driving standalone gateways.
//!
//! The line that says how to log in (with a fresh database's admin password) is the first
//! thing the server prints: log lines written while it starts are held back until that line
//! is out, so it follows the build's output directly instead of hiding among start-up logs.

use anyhow::Context;
use server::config::Config;
use server::startup;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

const USAGE: &str = "usage: server                        start the dialer (see README)
       server reset-password USER    give USER a new password, printed once
       server backup FILE            copy the SQLite database to FILE (docs/OPERATIONS.md)
       server demo-trunk GATEWAY_SIP…
                                     run the demo trunk on DIALER_DEMO_SIP_LISTEN for standalone
                                     gateways at these SIP addresses (docs/DEPLOY.md)";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let log = HeldLog::holding();
    // Logs go to stderr, so stdout carries only the lines meant for people.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(log.clone())
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => serve(log).await,
        ["reset-password", user] => {
            log.release();
            let config = Config::load().context("loading the configuration")?;
            let password = startup::reset_password(&config, user).await?;
            println!(
                "{user}'s new password: {password} (shown only now; their sessions were ended)"
            );
            Ok(())
        }
        ["backup", file] => {
            log.release();
            let config = Config::load().context("loading the configuration")?;
            startup::backup(&config, std::path::Path::new(file)).await?;
            println!("database copied to {file}");
            Ok(())
        }
        ["demo-trunk", gateways @ ..] if !gateways.is_empty() => {
            log.release();
            let gateways = gateways
                .iter()
                .map(|g| {
                    g.parse::<std::net::SocketAddr>().with_context(|| {
                        format!(
                            "{g:?} is not a gateway's SIP address (IP:PORT, e.g. 127.0.0.1:5071)"
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let config = Config::load().context("loading the configuration")?;
            let demo = startup::demo_trunk(&config, &gateways).await?;
            println!(
                "Demo trunk answering on {} for the gateways at {}",
                demo.sip,
                gateways.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            );
            std::io::stdout().flush()?;
            shutdown_signal().await;
            Ok(())
        }
        ["-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            log.release();
            anyhow::bail!("unknown arguments {args:?}\n{USAGE}")
        }
    }
}

async fn serve(log: HeldLog) -> anyhow::Result<()> {
    let started = async {
        let config = Config::load().context("loading the configuration")?;
        startup::start(config).await.context("starting the dialer")
    };
    let running = match started.await {
        Ok(running) => running,
        Err(e) => {
            log.release();
            return Err(e);
        }
    };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", running.banner())?;
    stdout.flush()?;
    log.release();

    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

/// Where log lines go: held in memory while the server starts, then, from
/// [`HeldLog::release`] on, written to stderr as they come (the held ones first).
#[derive(Clone)]
struct HeldLog(Arc<Mutex<Option<Vec<u8>>>>);

impl HeldLog {
    fn holding() -> HeldLog {
        HeldLog(Arc::new(Mutex::new(Some(Vec::new()))))
    }

    fn held(&self) -> MutexGuard<'_, Option<Vec<u8>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what was held and stops holding.
    fn release(&self) {
        if let Some(held) = self.held().take() {
            let _ = std::io::stderr().write_all(&held);
        }
    }
}

impl Write for HeldLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // (The lock is held while writing to stderr too, so released lines never overtake
        // held ones.)
        let mut held = self.held();
        match held.as_mut() {
            Some(held) => held.extend_from_slice(buf),
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for HeldLog {
    type Writer = HeldLog;

    fn make_writer(&'a self) -> HeldLog {
        self.clone()
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
