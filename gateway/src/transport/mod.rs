//! The only code that touches sockets: it turns datagrams and stream bytes into
//! [`NetEvent`]s for the gateway task, and sends what the sans-IO cores ask to send.
//!
//! - SIP over UDP: one socket; every datagram becomes a [`NetEvent::Sip`].
//! - SIP over TCP: a listener on the same port, plus outgoing connections made on demand.
//!   Accepted and opened connections share one table by the far end's address, so a
//!   response goes back over the connection its request came on (RFC 3261 §18.2.2) and a
//!   request to a trunk reuses the connection the trunk last used. Each connection is framed
//!   by `Content-Length` ([`sip::message::frame_stream`]) and closed on a framing error, an
//!   oversized message, a read or write error, or the peer closing; it then leaves the
//!   table, and the next message to that address opens a new connection.
//! - RTP to trunks: one UDP socket per call (trunks, and sipp, send every call's media from
//!   one port, so calls cannot share ours).
//! - WebRTC: one UDP socket for every agent leg, read by the engine itself.
//!
//! Datagrams over [`MAX_DATAGRAM`] are truncated by the read buffer and dropped by the
//! parsers, never buffered whole.
//!
//! [`sip::message::frame_stream`]: crate::sip::message::frame_stream

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::call::CallId;
use crate::sip::message::{Framing, Transport, frame_stream};

/// Read buffer size: a jumbo-free Ethernet MTU with room to spare. Longer datagrams are cut
/// and then refused by the parsers.
pub const MAX_DATAGRAM: usize = 4096;

/// Something arrived.
#[derive(Debug)]
pub enum NetEvent {
    /// A SIP message (a datagram, or one framed TCP message).
    Sip {
        /// Transport.
        transport: Transport,
        /// Sender.
        source: SocketAddr,
        /// Octets.
        data: Vec<u8>,
    },
    /// A datagram on a trunk leg's RTP socket.
    TrunkRtp {
        /// The call owning the socket.
        call: CallId,
        /// Octets.
        data: Vec<u8>,
    },
}

/// Reads datagrams from `socket` forever, wrapping each with `wrap`; stops when the
/// receiver is gone.
fn spawn_udp_reader(
    socket: Arc<UdpSocket>,
    events: mpsc::Sender<NetEvent>,
    size: usize,
    wrap: impl Fn(SocketAddr, Vec<u8>) -> NetEvent + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; size];
        loop {
            match socket.recv_from(&mut buf).await {
                Ok((n, source)) => {
                    if events.send(wrap(source, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
                // ICMP port unreachable surfaces as ECONNREFUSED on some systems: not fatal.
                Err(e) => debug!(error = %e, "UDP receive error"),
            }
        }
    })
}

/// One TCP connection in the table: where its writer listens.
struct Connection {
    /// Distinguishes this connection from a later one to the same address, so that a
    /// closing task never removes its successor.
    id: u64,
    /// Octets to write on the connection.
    tx: mpsc::Sender<Vec<u8>>,
}

/// Every open SIP TCP connection, accepted or opened by us, by the far end's address.
///
/// Invariant: an entry exists exactly while its connection task runs (the task removes its
/// own entry when it ends), so a message for a peer whose connection failed opens a new one.
#[derive(Default)]
struct Table {
    connections: HashMap<SocketAddr, Connection>,
    next_id: u64,
}

impl Table {
    fn insert(&mut self, peer: SocketAddr, tx: mpsc::Sender<Vec<u8>>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.connections.insert(peer, Connection { id, tx });
        id
    }

    /// Removes `peer`'s entry if it is still connection `id`.
    fn remove(&mut self, peer: SocketAddr, id: u64) {
        if self.connections.get(&peer).is_some_and(|c| c.id == id) {
            self.connections.remove(&peer);
        }
    }
}

/// The table, shared by the engine (which sends) and the connection tasks (which remove
/// themselves). Every user runs on the engine's single thread, so the lock is never
/// contended; it is a mutex only because tasks must be `Send`.
type SharedTable = Arc<Mutex<Table>>;

fn lock(table: &SharedTable) -> MutexGuard<'_, Table> {
    // Nothing panics while holding the lock; if something did, the table is still usable.
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Messages queued per TCP connection before further ones are dropped (SIP recovers through
/// its timers; a peer that reads this slowly is not keeping up anyway).
const CONNECTION_QUEUE: usize = 256;

/// The SIP transports.
pub struct SipTransport {
    udp: Arc<UdpSocket>,
    tcp_local: SocketAddr,
    table: SharedTable,
    events: mpsc::Sender<NetEvent>,
    tasks: Vec<JoinHandle<()>>,
}

impl SipTransport {
    /// Binds UDP and TCP on `listen` (port 0: a free port, the same for both when possible).
    pub async fn bind(listen: SocketAddr, events: mpsc::Sender<NetEvent>) -> io::Result<Self> {
        let udp = Arc::new(UdpSocket::bind(listen).await?);
        let port = udp.local_addr()?.port();
        let listener = match TcpListener::bind(SocketAddr::new(listen.ip(), port)).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?,
        };
        let tcp_local = listener.local_addr()?;
        let reader = spawn_udp_reader(udp.clone(), events.clone(), MAX_DATAGRAM, |source, data| {
            NetEvent::Sip { transport: Transport::Udp, source, data }
        });
        let table = SharedTable::default();
        let acceptor = tokio::spawn(accept_loop(listener, table.clone(), events.clone()));
        Ok(Self { udp, tcp_local, table, events, tasks: vec![reader, acceptor] })
    }

    /// The UDP address.
    pub fn udp_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// The TCP listener's address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_local
    }

    /// Sends a message. On TCP it goes over the open connection with `destination` (the
    /// one a request came on, RFC 3261 §18.2.2, or one we opened), else over a new one.
    /// Errors are logged: SIP recovers through its timers.
    pub fn send(&mut self, transport: Transport, destination: SocketAddr, data: Vec<u8>) {
        match transport {
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&data, destination) {
                    debug!(%destination, error = %e, "SIP UDP send failed");
                }
            }
            Transport::Tcp => self.send_tcp(destination, data),
        }
    }

    fn send_tcp(&mut self, destination: SocketAddr, data: Vec<u8>) {
        let mut table = lock(&self.table);
        let data = match table.connections.get(&destination) {
            None => data,
            Some(connection) => match connection.tx.try_send(data) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    debug!(%destination, "SIP TCP connection not keeping up: message dropped");
                    return;
                }
                // The connection ended and its task has not removed it yet: open a new one.
                Err(mpsc::error::TrySendError::Closed(data)) => {
                    if let Some(id) = table.connections.get(&destination).map(|c| c.id) {
                        table.remove(destination, id);
                    }
                    data
                }
            },
        };
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        // A fresh channel has room for one message.
        let _ = tx.try_send(data);
        let id = table.insert(destination, tx);
        drop(table);
        tokio::spawn(connect(destination, id, rx, self.table.clone(), self.events.clone()));
    }
}

impl Drop for SipTransport {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Accepts SIP TCP connections and serves each in a task of its own.
async fn accept_loop(listener: TcpListener, table: SharedTable, events: mpsc::Sender<NetEvent>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
                // Registered before its first message reaches the engine, so the response to
                // that message finds this connection.
                let id = lock(&table).insert(peer, tx);
                tokio::spawn(serve(stream, peer, id, rx, table.clone(), events.clone()));
            }
            Err(e) => warn!(error = %e, "TCP accept failed"),
        }
    }
}

/// Opens a connection to `destination` for the messages queued on `rx`, then serves it.
async fn connect(
    destination: SocketAddr,
    id: u64,
    rx: mpsc::Receiver<Vec<u8>>,
    table: SharedTable,
    events: mpsc::Sender<NetEvent>,
) {
    match TcpStream::connect(destination).await {
        Ok(stream) => serve(stream, destination, id, rx, table, events).await,
        Err(e) => {
            debug!(%destination, error = %e, "SIP TCP connect failed");
            lock(&table).remove(destination, id);
        }
    }
}

/// Serves one connection until either side ends it: frames SIP messages out of what
/// arrives (by `Content-Length`), and writes what the engine queues. A framing error, a
/// read or write error (reset, broken pipe) or the peer closing ends the connection and
/// removes it from the table.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    mut rx: mpsc::Receiver<Vec<u8>>,
    table: SharedTable,
    events: mpsc::Sender<NetEvent>,
) {
    let (mut read, mut write) = stream.into_split();
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_DATAGRAM);
    let mut chunk = vec![0u8; MAX_DATAGRAM];
    'connection: loop {
        // Deliver every whole message already buffered.
        loop {
            match frame_stream(&buf) {
                Framing::Skip(n) => {
                    buf.drain(..n);
                }
                Framing::Message(n) => {
                    let data: Vec<u8> = buf.drain(..n).collect();
                    let event = NetEvent::Sip { transport: Transport::Tcp, source: peer, data };
                    if events.send(event).await.is_err() {
                        break 'connection;
                    }
                }
                Framing::Invalid(e) => {
                    debug!(%peer, error = %e, "closing a SIP TCP connection that cannot be framed");
                    break 'connection;
                }
                Framing::Incomplete => break,
            }
        }
        tokio::select! {
            received = read.read(&mut chunk) => match received {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    debug!(%peer, error = %e, "SIP TCP read failed");
                    break;
                }
            },
            queued = rx.recv() => {
                let Some(data) = queued else { break };
                if let Err(e) = write.write_all(&data).await {
                    debug!(%peer, error = %e, "SIP TCP write failed");
                    break;
                }
            }
        }
    }
    lock(&table).remove(peer, id);
}

/// A trunk leg's RTP socket and its reader.
pub struct RtpSocket {
    socket: Arc<UdpSocket>,
    reader: Option<JoinHandle<()>>,
}

impl RtpSocket {
    /// Binds a free port on `ip` (synchronously: binding never waits, and the gateway
    /// task binds while it handles a command). Needs a tokio runtime.
    pub fn bind(ip: std::net::IpAddr) -> io::Result<(Self, SocketAddr)> {
        let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        socket.set_nonblocking(true)?;
        let socket = Arc::new(UdpSocket::from_std(socket)?);
        let local = socket.local_addr()?;
        Ok((Self { socket, reader: None }, local))
    }

    /// Starts forwarding datagrams as `call`'s (once the call id is known).
    pub fn start(&mut self, call: CallId, events: mpsc::Sender<NetEvent>) {
        if let Some(old) = self.reader.take() {
            old.abort();
        }
        let reader = spawn_udp_reader(self.socket.clone(), events, MAX_DATAGRAM, move |_, data| {
            NetEvent::TrunkRtp { call, data }
        });
        self.reader = Some(reader);
    }

    /// Sends a packet without waiting (UDP sends do not block in practice; a full buffer
    /// drops the packet, which RTP tolerates).
    pub fn send(&self, packet: &[u8], destination: SocketAddr) -> bool {
        self.socket.try_send_to(packet, destination).is_ok()
    }
}

impl Drop for RtpSocket {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

/// Receive buffer asked for on the WebRTC socket: a second of media for 1000 legs.
const WEBRTC_RECV_BUFFER: usize = 16 * 1024 * 1024;

/// The shared WebRTC socket. It carries every agent leg's media (50 packets a second each),
/// so the engine reads it itself, in batches, instead of through a reader task: one hop and
/// one wake-up fewer per packet, and the busiest socket drained first.
pub struct WebrtcSocket {
    socket: Arc<UdpSocket>,
}

impl WebrtcSocket {
    /// Binds `listen`, asking for a large receive buffer: it absorbs the packets that
    /// arrive while the engine thread is descheduled (the kernel caps the request at
    /// `net.core.rmem_max`; raise that on busy gateways).
    pub async fn bind(listen: SocketAddr) -> io::Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(listen), Type::DGRAM, Some(Protocol::UDP))?;
        // Best effort: a smaller buffer still works.
        let _ = socket.set_recv_buffer_size(WEBRTC_RECV_BUFFER);
        socket.set_nonblocking(true)?;
        socket.bind(&listen.into())?;
        let socket = UdpSocket::from_std(socket.into())?;
        Ok(Self { socket: Arc::new(socket) })
    }

    /// Its address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// A handle for waiting until datagrams are ready ([`UdpSocket::readable`]).
    pub fn handle(&self) -> Arc<UdpSocket> {
        self.socket.clone()
    }

    /// One datagram if one is waiting, without waiting.
    pub fn try_recv<'a>(&self, buf: &'a mut [u8]) -> Option<(SocketAddr, &'a [u8])> {
        match self.socket.try_recv_from(buf) {
            Ok((n, source)) => Some((source, &buf[..n])),
            Err(_) => None,
        }
    }

    /// Sends without waiting.
    pub fn send(&self, data: &[u8], destination: SocketAddr) -> bool {
        self.socket.try_send_to(data, destination).is_ok()
    }
}
