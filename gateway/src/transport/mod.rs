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
//!   table, and the next message to that address opens a new connection. A connect or write
//!   that fails is reported ([`NetEvent::TcpFailed`]): the transactions waiting on that peer
//!   fail at once instead of on their timers.
//! - RTP to trunks: one UDP socket per call (trunks, and sipp, send every call's media from
//!   one port, so calls cannot share ours), on an even port with its RTCP socket on the next
//!   one (RFC 3550 §11: a peer that is not told otherwise sends RTCP to RTP port + 1).
//! - WebRTC: one UDP socket for every agent leg, read by the engine itself.
//!
//! SIP datagrams are read whole (up to [`MAX_SIP_DATAGRAM`]); media datagrams over
//! [`MAX_DATAGRAM`] are truncated by the read buffer and dropped by the parsers.
//!
//! TCP is bounded by [`TcpLimits`]: connections in total and per peer address (over either,
//! an accepted connection is closed at once), an idle timeout, and a time limit for each
//! message to arrive whole. Accept errors (out of file descriptors) back off and are logged
//! at most once a second.
//!
//! [`sip::message::frame_stream`]: crate::sip::message::frame_stream

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::call::CallId;
use crate::sip::message::{Framing, Transport, frame_stream};

/// Read buffer size for media (RTP, WebRTC): a jumbo-free Ethernet MTU with room to spare.
/// Longer datagrams are cut and then refused by the parsers.
pub const MAX_DATAGRAM: usize = 4096;

/// Read buffer size for SIP over UDP: the largest UDP payload. SIP datagrams may exceed the
/// MTU (IP fragments them; RFC 3261 §18.1.1 only asks senders to prefer TCP), and one cut
/// short would be refused.
pub const MAX_SIP_DATAGRAM: usize = 65_535;

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
    /// A datagram on a trunk leg's RTCP socket (its RTP port + 1).
    TrunkRtcp {
        /// The call owning the socket.
        call: CallId,
        /// Octets.
        data: Vec<u8>,
    },
    /// SIP over TCP to `peer` could not be delivered: the connect failed or timed out, or
    /// the connection ended (a write failed, the peer closed it) with messages unwritten.
    /// They are lost.
    TcpFailed {
        /// The far end.
        peer: SocketAddr,
    },
}

/// Limits on SIP over TCP: a hostile or broken peer cannot hold more than its share of
/// connections (file descriptors), nor keep one open doing nothing, nor trickle a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections open at once, accepted and opened (accepting stops short of it).
    pub max_connections: usize,
    /// Accepted connections from one IP address.
    pub max_per_peer: usize,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// A message must arrive whole within this long of its first octet.
    pub header_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_per_peer: 32,
            idle_timeout: Duration::from_secs(300),
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of the SIP transport, shared with `/metrics`.
#[derive(Debug, Default)]
pub struct TransportStats {
    tcp_connections: AtomicU64,
    tcp_refused: AtomicU64,
    tcp_timed_out: AtomicU64,
    tcp_accept_errors: AtomicU64,
}

impl TransportStats {
    /// SIP TCP connections open now (accepted and opened).
    pub fn tcp_connections(&self) -> u64 {
        self.tcp_connections.load(Ordering::Relaxed)
    }

    /// Accepted connections closed at once for being over a limit.
    pub fn tcp_refused(&self) -> u64 {
        self.tcp_refused.load(Ordering::Relaxed)
    }

    /// Connections closed for idling or for a message that did not arrive in time.
    pub fn tcp_timed_out(&self) -> u64 {
        self.tcp_timed_out.load(Ordering::Relaxed)
    }

    /// Failed accepts (e.g. out of file descriptors).
    pub fn tcp_accept_errors(&self) -> u64 {
        self.tcp_accept_errors.load(Ordering::Relaxed)
    }
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
    /// Accepted (counted against its peer's limit) rather than opened by us.
    inbound: bool,
}

/// Every open SIP TCP connection, accepted or opened by us, by the far end's address.
///
/// Invariant: an entry exists exactly while its connection task runs (the task removes its
/// own entry when it ends), so a message for a peer whose connection failed opens a new one.
struct Table {
    connections: HashMap<SocketAddr, Connection>,
    /// Accepted connections per peer address; an address leaves the map with its last one.
    accepted: HashMap<IpAddr, usize>,
    next_id: u64,
    limits: TcpLimits,
    stats: Arc<TransportStats>,
}

impl Table {
    fn new(limits: TcpLimits, stats: Arc<TransportStats>) -> Self {
        Self { connections: HashMap::new(), accepted: HashMap::new(), next_id: 0, limits, stats }
    }

    /// Registers an accepted connection from `peer` unless that would break a limit.
    fn admit(&mut self, peer: SocketAddr) -> Option<(u64, mpsc::Receiver<Vec<u8>>)> {
        let from_peer = self.accepted.get(&peer.ip()).copied().unwrap_or(0);
        if self.connections.len() >= self.limits.max_connections
            || from_peer >= self.limits.max_per_peer
        {
            return None;
        }
        *self.accepted.entry(peer.ip()).or_default() += 1;
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        Some((self.insert(peer, tx, true), rx))
    }

    fn insert(&mut self, peer: SocketAddr, tx: mpsc::Sender<Vec<u8>>, inbound: bool) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        if let Some(old) = self.connections.insert(peer, Connection { id, tx, inbound }) {
            // Its task still runs and will find its entry gone: count it out now.
            self.forget(peer, &old);
        }
        self.stats.tcp_connections.store(self.connections.len() as u64, Ordering::Relaxed);
        id
    }

    /// Removes `peer`'s entry if it is still connection `id`.
    fn remove(&mut self, peer: SocketAddr, id: u64) {
        if self.connections.get(&peer).is_some_and(|c| c.id == id)
            && let Some(old) = self.connections.remove(&peer)
        {
            self.forget(peer, &old);
        }
        self.stats.tcp_connections.store(self.connections.len() as u64, Ordering::Relaxed);
    }

    fn forget(&mut self, peer: SocketAddr, connection: &Connection) {
        if !connection.inbound {
            return;
        }
        if let Some(n) = self.accepted.get_mut(&peer.ip()) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.accepted.remove(&peer.ip());
            }
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
    pub async fn bind(
        listen: SocketAddr,
        limits: TcpLimits,
        stats: Arc<TransportStats>,
        events: mpsc::Sender<NetEvent>,
    ) -> io::Result<Self> {
        let udp = Arc::new(UdpSocket::bind(listen).await?);
        let port = udp.local_addr()?.port();
        let listener = match TcpListener::bind(SocketAddr::new(listen.ip(), port)).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?,
        };
        let tcp_local = listener.local_addr()?;
        let reader =
            spawn_udp_reader(udp.clone(), events.clone(), MAX_SIP_DATAGRAM, |source, data| {
                NetEvent::Sip { transport: Transport::Udp, source, data }
            });
        let table = Arc::new(Mutex::new(Table::new(limits, stats)));
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
    /// UDP errors are logged (SIP recovers through its timers); TCP ones are also reported
    /// as [`NetEvent::TcpFailed`].
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
        let id = table.insert(destination, tx, false);
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

/// Accepts SIP TCP connections and serves each in a task of its own; closes at once those
/// over a limit.
async fn accept_loop(listener: TcpListener, table: SharedTable, events: mpsc::Sender<NetEvent>) {
    let mut backoff = Duration::ZERO;
    let mut last_warning: Option<Instant> = None;
    let mut unlogged = 0u64;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                backoff = Duration::ZERO;
                // Registered before its first message reaches the engine, so the response to
                // that message finds this connection.
                let admitted = lock(&table).admit(peer);
                match admitted {
                    Some((id, rx)) => {
                        tokio::spawn(serve(stream, peer, id, rx, table.clone(), events.clone()));
                    }
                    None => {
                        lock(&table).stats.tcp_refused.fetch_add(1, Ordering::Relaxed);
                        debug!(%peer, "SIP TCP connection over the limits: closed");
                        drop(stream);
                    }
                }
            }
            Err(e) => {
                lock(&table).stats.tcp_accept_errors.fetch_add(1, Ordering::Relaxed);
                // Out of file descriptors (EMFILE) fails every accept at once until some
                // close: wait, doubling up to a second, instead of spinning on the error.
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                let now = Instant::now();
                if last_warning.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
                    warn!(error = %e, suppressed = unlogged, "SIP TCP accept failed");
                    last_warning = Some(now);
                    unlogged = 0;
                } else {
                    unlogged += 1;
                }
                tokio::time::sleep(backoff).await;
            }
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
    // A peer that never answers the SYN would hold the entry (and the queued messages) for
    // the system's connect timeout, minutes: give up as soon as a slow message would.
    let timeout = lock(&table).limits.header_timeout;
    match tokio::time::timeout(timeout, TcpStream::connect(destination)).await {
        Ok(Ok(stream)) => serve(stream, destination, id, rx, table, events).await,
        Ok(Err(e)) => {
            debug!(%destination, error = %e, "SIP TCP connect failed");
            lock(&table).remove(destination, id);
            let _ = events.send(NetEvent::TcpFailed { peer: destination }).await;
        }
        Err(_) => {
            debug!(%destination, "SIP TCP connect timed out");
            lock(&table).remove(destination, id);
            let _ = events.send(NetEvent::TcpFailed { peer: destination }).await;
        }
    }
}

/// Serves one connection until either side ends it: frames SIP messages out of what
/// arrives (by `Content-Length`), and writes what the engine queues. A framing error, a
/// read or write error (reset, broken pipe), the peer closing, no traffic for the idle
/// timeout, or a message not whole within the header timeout ends the connection and
/// removes it from the table; messages it could not write are reported lost
/// ([`NetEvent::TcpFailed`]).
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    mut rx: mpsc::Receiver<Vec<u8>>,
    table: SharedTable,
    events: mpsc::Sender<NetEvent>,
) {
    let limits = lock(&table).limits;
    // Each SIP message is one write; Nagle's algorithm would hold one that follows another
    // (a 180 after a 100) for the peer's delayed ACK.
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, error = %e, "cannot set TCP_NODELAY on a SIP connection");
    }
    let (mut read, mut write) = stream.into_split();
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_DATAGRAM);
    let mut chunk = vec![0u8; MAX_DATAGRAM];
    let mut idle_until = Instant::now() + limits.idle_timeout;
    // When the first octet of the message being read arrived.
    let mut partial_since: Option<Instant> = None;
    // A message taken from the queue and not written when the connection ended.
    let mut unsent = false;
    // A request written and nothing heard from the peer since: if the connection ends now,
    // the peer never answers it (it closed as the request went out, and its kernel answered
    // the request with a reset), and whoever sent it must not wait out a timer for it.
    let mut unheard = false;
    'connection: loop {
        // Deliver every whole message already buffered.
        loop {
            match frame_stream(&buf) {
                Framing::Skip(n) => {
                    buf.drain(..n);
                }
                Framing::Message(n) => {
                    let data: Vec<u8> = buf.drain(..n).collect();
                    partial_since = None;
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
        if buf.is_empty() {
            partial_since = None;
        } else if partial_since.is_none() {
            partial_since = Some(Instant::now());
        }
        let deadline =
            partial_since.map_or(idle_until, |t| idle_until.min(t + limits.header_timeout));
        tokio::select! {
            received = read.read(&mut chunk) => match received {
                Ok(0) => {
                    unsent |= unheard;
                    break;
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    unheard = false;
                    idle_until = Instant::now() + limits.idle_timeout;
                }
                Err(e) => {
                    debug!(%peer, error = %e, "SIP TCP read failed");
                    unsent |= unheard;
                    break;
                }
            },
            queued = rx.recv() => {
                let Some(data) = queued else { break };
                // A peer that closed the connection (or died: its kernel closes for it) may
                // have said so already. Look before writing: a message written after the
                // peer's FIN goes where nobody reads, and its transaction waits out a timer.
                match read.try_read(&mut chunk) {
                    Ok(0) => {
                        unsent = true;
                        break;
                    }
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        debug!(%peer, error = %e, "SIP TCP read failed");
                        unsent = true;
                        break;
                    }
                }
                if let Err(e) = write.write_all(&data).await {
                    debug!(%peer, error = %e, "SIP TCP write failed");
                    unsent = true;
                    break;
                }
                unheard |= expects_answer(&data);
                idle_until = Instant::now() + limits.idle_timeout;
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                lock(&table).stats.tcp_timed_out.fetch_add(1, Ordering::Relaxed);
                debug!(%peer, "SIP TCP connection idle or too slow: closed");
                break;
            }
        }
    }
    // Nothing more goes into this connection (a message sent from now on opens a new one);
    // what was queued for it is lost, and the transactions waiting on it are told.
    rx.close();
    let mut lost = unsent;
    while rx.try_recv().is_ok() {
        lost = true;
    }
    lock(&table).remove(peer, id);
    if lost {
        let _ = events.send(NetEvent::TcpFailed { peer }).await;
    }
}

/// Whether SIP message `data` is a request its peer answers (not a response, not an ACK).
fn expects_answer(data: &[u8]) -> bool {
    !data.starts_with(b"SIP/2.0 ") && !data.starts_with(b"ACK ")
}

/// How many random port pairs [`RtpSocket::bind`] tries before it gives up.
const PAIR_TRIES: usize = 64;

/// A trunk leg's RTP socket and, on the next port, its RTCP socket, with their readers.
pub struct RtpSocket {
    socket: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    readers: Vec<JoinHandle<()>>,
}

impl RtpSocket {
    /// Binds a free even port on `ip` for RTP and the odd one above it for RTCP
    /// (synchronously: binding never waits, and the gateway task binds while it handles a
    /// command). Needs a tokio runtime. Returns the RTP address.
    pub fn bind(ip: std::net::IpAddr) -> io::Result<(Self, SocketAddr)> {
        let bind = |port| -> io::Result<Arc<UdpSocket>> {
            let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
            socket.set_nonblocking(true)?;
            Ok(Arc::new(UdpSocket::from_std(socket)?))
        };
        let mut last = io::Error::new(io::ErrorKind::AddrInUse, "no free RTP/RTCP port pair");
        for _ in 0..PAIR_TRIES {
            // The system picks a free port; an odd one, or one whose neighbour is taken, is
            // let go and another asked for.
            let socket = bind(0)?;
            let local = socket.local_addr()?;
            if local.port() % 2 != 0 || local.port() == u16::MAX {
                continue;
            }
            match bind(local.port() + 1) {
                Ok(rtcp) => return Ok((Self { socket, rtcp, readers: Vec::new() }, local)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Starts forwarding datagrams as `call`'s (once the call id is known).
    pub fn start(&mut self, call: CallId, events: mpsc::Sender<NetEvent>) {
        for old in self.readers.drain(..) {
            old.abort();
        }
        let rtp =
            spawn_udp_reader(self.socket.clone(), events.clone(), MAX_DATAGRAM, move |_, data| {
                NetEvent::TrunkRtp { call, data }
            });
        let rtcp = spawn_udp_reader(self.rtcp.clone(), events, MAX_DATAGRAM, move |_, data| {
            NetEvent::TrunkRtcp { call, data }
        });
        self.readers = vec![rtp, rtcp];
    }

    /// Sends a packet without waiting (UDP sends do not block in practice; a full buffer
    /// drops the packet, which RTP tolerates).
    pub fn send(&self, packet: &[u8], destination: SocketAddr) -> bool {
        self.socket.try_send_to(packet, destination).is_ok()
    }

    /// Sends an RTCP packet from the RTCP port, or from the RTP port when RTCP is
    /// multiplexed (RFC 5761).
    pub fn send_rtcp(&self, packet: &[u8], destination: SocketAddr, mux: bool) -> bool {
        let socket = if mux { &self.socket } else { &self.rtcp };
        socket.try_send_to(packet, destination).is_ok()
    }
}

impl Drop for RtpSocket {
    fn drop(&mut self) {
        for reader in self.readers.drain(..) {
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

#[cfg(test)]
mod tests {
    use super::expects_answer;

    #[test]
    fn requests_but_acks_are_answered() {
        assert!(expects_answer(b"INVITE sip:+1555@trunk SIP/2.0\r\n"));
        assert!(expects_answer(b"BYE sip:a@b SIP/2.0\r\n"));
        assert!(!expects_answer(b"ACK sip:a@b SIP/2.0\r\n"), "an ACK has no answer");
        assert!(!expects_answer(b"SIP/2.0 200 OK\r\n"), "nor has a response");
    }
}
