//! The standalone gateway: `DIALER_GATEWAY_*` settings (see the README), logs to stderr with
//! `RUST_LOG`, and one line on stdout saying where it listens.

use anyhow::Context;
use gateway::runtime::{self, Config};
use gateway::standalone::{self, config::Settings};
use rand::Rng;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = Settings::load().context("configuration")?;
    let token = match &settings.token {
        Some(t) => t.clone(),
        None => {
            let t: String =
                (0..32).map(|_| rand::rng().sample(rand::distr::Alphanumeric) as char).collect();
            eprintln!("control token (set DIALER_GATEWAY_TOKEN to choose one): {t}");
            t
        }
    };
    let config = Config {
        sip_listen: settings.sip,
        webrtc_listen: settings.webrtc,
        advertise: settings.advertise,
        trunks: settings.trunks.clone(),
        hold_music: settings.hold_music.clone(),
        tcp: settings.tcp,
        sip_rate_limit: settings.sip_rate,
        media_timeout: settings.media_timeout,
        recordings_dir: settings.recordings.clone(),
        ..Config::default()
    };
    let (gateway, running) = runtime::start(config).await.context("starting the gateway")?;
    let listener = tokio::net::TcpListener::bind(settings.http)
        .await
        .with_context(|| format!("binding HTTP on {}", settings.http))?;
    let http = listener.local_addr()?;
    println!("{}", standalone::banner(http, &running));
    let router =
        standalone::router(gateway, running.metrics.clone(), &token, settings.orphan_timeout);
    tokio::select! {
        served = standalone::serve(listener, router) => served.context("HTTP server")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    drop(running);
    Ok(())
}
