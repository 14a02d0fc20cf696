//! A TCP relay between a server and its database, to cut the server off the way a network
//! partition does — the server hears nothing and its connections hang, no reset; the
//! database ends the sessions it finds dead — and to let it back (the connections held across
//! the cut are closed then, as they would have died).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct DbRelay {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Drop for DbRelay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl DbRelay {
    /// A relay to the database of `url` (`postgres://USER@HOST:PORT/DB`).
    pub async fn start(url: &str) -> DbRelay {
        let target: SocketAddr = host_port(url).parse().expect("the database URL names IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = watch::channel(false);
        let cuts = cut.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(pipe(client, target, cuts.subscribe()));
            }
        });
        DbRelay { addr, cut, accept }
    }

    /// `url` with the relay in place of the database's address.
    pub fn url(&self, url: &str) -> String {
        url.replacen(host_port(url), &self.addr.to_string(), 1)
    }

    /// Nothing passes any more, either way, on any connection, old or new.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Connections held across the cut are closed; new ones pass again.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }
}

fn host_port(url: &str) -> &str {
    let rest = url.split_once('@').map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

async fn pipe(mut client: TcpStream, target: SocketAddr, mut cut: watch::Receiver<bool>) {
    if !*cut.borrow() {
        let Ok(mut server) = TcpStream::connect(target).await else { return };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = cut.wait_for(|c| *c) => {}
        }
        // The database's side goes (it finds the connection dead by its TCP keep-alives, which
        // the server sets short on its sessions, and ends the session: its locks are freed);
        // the server's side hears nothing until healed, then the connection closes.
        drop(server);
        let _ = cut.wait_for(|c| !*c).await;
        return;
    }
    // Opened during the cut: held, unanswered, until healed.
    let _ = cut.wait_for(|c| !*c).await;
    drop(client);
}
