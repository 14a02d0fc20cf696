//! The only code that touches sockets: it turns datagrams and stream bytes into
//! [`NetEvent`]s for the gateway task, and sends what the sans-IO cores ask to send.
//!
//! - SIP over UDP: one socket; every datagram becomes a [`NetEvent::Sip`].
//! - SIP over TCP: a listener on the same port, plus outgoing connections made on demand;
//!   each connection is framed by `Content-Length` ([`sip::message::frame_stream`]) and
//!   closed on a framing error or an oversized message.
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
use std::sync::Arc;

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
    wrap: impl Fn(SocketAddr, Vec<u8>) -> NetEvent + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; MAX_DATAGRAM];
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

/// The SIP transports.
pub struct SipTransport {
    udp: Arc<UdpSocket>,
    tcp_local: SocketAddr,
    connections: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
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
        let reader = spawn_udp_reader(udp.clone(), events.clone(), |source, data| NetEvent::Sip {
            transport: Transport::Udp,
            source,
            data,
        });
        let acceptor_events = events.clone();
        let acceptor = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let (read, _write) = stream.into_split();
                        // Inbound connections are read here; replies go out on a connection
                        // of our own (RFC 3261 §18.2.2 allows either).
                        tokio::spawn(read_stream(read, peer, acceptor_events.clone()));
                    }
                    Err(e) => warn!(error = %e, "TCP accept failed"),
                }
            }
        });
        Ok(Self {
            udp,
            tcp_local,
            connections: HashMap::new(),
            events,
            tasks: vec![reader, acceptor],
        })
    }

    /// The UDP address.
    pub fn udp_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// The TCP listener's address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_local
    }

    /// Sends a message; on TCP connects first if needed. Errors are logged: SIP recovers
    /// through its timers.
    pub fn send(&mut self, transport: Transport, destination: SocketAddr, data: Vec<u8>) {
        match transport {
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&data, destination) {
                    debug!(%destination, error = %e, "SIP UDP send failed");
                }
            }
            Transport::Tcp => {
                let sender = self.connections.entry(destination).or_insert_with(|| {
                    let (tx, rx) = mpsc::channel(256);
                    tokio::spawn(write_stream(destination, rx, self.events.clone()));
                    tx
                });
                if sender.try_send(data).is_err() {
                    self.connections.remove(&destination);
                }
            }
        }
    }
}

impl Drop for SipTransport {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Connects to `destination`, writes what arrives on `rx`, reads replies from the same
/// connection. Ends when the engine drops the sender or the connection fails.
async fn write_stream(
    destination: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<NetEvent>,
) {
    let stream = match TcpStream::connect(destination).await {
        Ok(s) => s,
        Err(e) => {
            debug!(%destination, error = %e, "SIP TCP connect failed");
            return;
        }
    };
    let (read, mut write) = stream.into_split();
    let reader = tokio::spawn(read_stream(read, destination, events));
    while let Some(data) = rx.recv().await {
        if let Err(e) = write.write_all(&data).await {
            debug!(%destination, error = %e, "SIP TCP write failed");
            break;
        }
    }
    reader.abort();
}

/// Frames SIP messages from a TCP stream.
async fn read_stream(
    mut read: tokio::net::tcp::OwnedReadHalf,
    peer: SocketAddr,
    events: mpsc::Sender<NetEvent>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_DATAGRAM);
    let mut chunk = vec![0u8; MAX_DATAGRAM];
    loop {
        match frame_stream(&buf) {
            Framing::Skip(n) => {
                buf.drain(..n);
                continue;
            }
            Framing::Message(n) => {
                let data: Vec<u8> = buf.drain(..n).collect();
                if events
                    .send(NetEvent::Sip { transport: Transport::Tcp, source: peer, data })
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Framing::Invalid(e) => {
                debug!(%peer, error = %e, "closing a SIP TCP connection that cannot be framed");
                return;
            }
            Framing::Incomplete => {}
        }
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
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
        let reader = spawn_udp_reader(self.socket.clone(), events, move |_, data| {
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
