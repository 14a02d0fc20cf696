//! The peer in the same run: rtpengine (Debian package `rtpengine-daemon`) bridging the same
//! WebRTC clients to the same sipp, forwarding in userspace (no kernel module here). It is a
//! media proxy only, driven over its ng control protocol (bencode over UDP), so this program
//! does the SIP toward sipp that our gateway does itself: per call, an ng `offer` with the
//! client's WebRTC offer (rtpengine turns it into plain RTP/AVP: no ICE, no DTLS, RTCP apart),
//! an INVITE to sipp with that SDP, the ACK of its 200, and an ng `answer` with sipp's SDP,
//! which rtpengine turns into the WebRTC answer the client accepts (ICE, DTLS passive,
//! RTCP muxed; see [`answered`]). Signalling is not what is measured: only the media path
//! runs in the window.
//!
//! One difference, and why: rtpengine forwards packets as they are, so sipp's echo would
//! bring each client its own SSRC back, which a WebRTC endpoint drops as its own (our gateway
//! bridges, sending under an SSRC of its own). The SDP rtpengine is answered with therefore
//! points its RTP side at a [`Reflector`] — sipp's echo with the SSRC changed, one thread of
//! this program — and the straight probe measures that reflector, so the latency added is
//! still "through minus straight" over the same echo.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::net::UdpSocket;

use super::{Proc, free_port};

/// A bencoded value (the ng protocol's encoding).
#[derive(Debug, Clone, PartialEq)]
enum Bencode {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Bencode>),
    Dict(BTreeMap<Vec<u8>, Bencode>),
}

impl Bencode {
    /// From JSON: strings, numbers (whole), arrays and objects; anything else is refused.
    fn from_json(v: &Value) -> Result<Bencode> {
        Ok(match v {
            Value::String(s) => Bencode::Bytes(s.as_bytes().to_vec()),
            Value::Number(n) => Bencode::Int(n.as_i64().context("a whole number")?),
            Value::Array(a) => {
                Bencode::List(a.iter().map(Bencode::from_json).collect::<Result<_>>()?)
            }
            Value::Object(o) => Bencode::Dict(
                o.iter()
                    .map(|(k, v)| Ok((k.as_bytes().to_vec(), Bencode::from_json(v)?)))
                    .collect::<Result<_>>()?,
            ),
            other => bail!("no bencoding for {other}"),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Bencode::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Bencode::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Bencode::List(items) => {
                out.push(b'l');
                items.iter().for_each(|i| i.encode(out));
                out.push(b'e');
            }
            Bencode::Dict(entries) => {
                out.push(b'd');
                for (k, v) in entries {
                    Bencode::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// One value from the start of `input`, and what follows it.
    fn decode(input: &[u8]) -> Result<(Bencode, &[u8])> {
        let (&first, rest) = input.split_first().context("bencode: nothing to read")?;
        match first {
            b'i' => {
                let end = rest.iter().position(|&b| b == b'e').context("bencode: open integer")?;
                let i = std::str::from_utf8(&rest[..end])?.parse()?;
                Ok((Bencode::Int(i), &rest[end + 1..]))
            }
            b'l' | b'd' => {
                let mut items = Vec::new();
                let mut rest = rest;
                while rest.first() != Some(&b'e') {
                    let (item, after) = Bencode::decode(rest)?;
                    items.push(item);
                    rest = after;
                }
                let rest = &rest[1..];
                if first == b'l' {
                    return Ok((Bencode::List(items), rest));
                }
                let mut dict = BTreeMap::new();
                let mut it = items.into_iter();
                while let Some(key) = it.next() {
                    let Bencode::Bytes(key) = key else { bail!("bencode: a key not a string") };
                    dict.insert(key, it.next().context("bencode: a key without its value")?);
                }
                Ok((Bencode::Dict(dict), rest))
            }
            b'0'..=b'9' => {
                let colon = input.iter().position(|&b| b == b':').context("bencode: no length")?;
                let len: usize = std::str::from_utf8(&input[..colon])?.parse()?;
                let body =
                    input.get(colon + 1..colon + 1 + len).context("bencode: short string")?;
                Ok((Bencode::Bytes(body.to_vec()), &input[colon + 1 + len..]))
            }
            other => bail!("bencode: unexpected byte {other:#x}"),
        }
    }

    /// A dictionary's text value.
    fn text(&self, key: &str) -> Option<String> {
        let Bencode::Dict(d) = self else { return None };
        match d.get(key.as_bytes())? {
            Bencode::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// The value of header `name` in a SIP message (empty when it has none).
fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .split("\r\n")
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or("")
}

/// A running rtpengine, its ng control socket, and this program's SIP socket toward sipp.
pub struct Rtpengine {
    _process: Proc,
    pub pid: u32,
    ng: UdpSocket,
    sip: UdpSocket,
    sipp: SocketAddr,
    cookie: u64,
}

impl Rtpengine {
    /// Starts `binary` on loopback and waits (5 s at most) until it answers a ping.
    pub async fn start(binary: &Path, sipp: SocketAddr) -> Result<Rtpengine> {
        let ng_port = free_port();
        let child = Command::new(binary)
            .args(["--foreground", "--log-stderr", "--log-level=3", "--table=-1"])
            .args(["--interface=127.0.0.1", "--port-min=30000", "--port-max=60000"])
            .arg(format!("--listen-ng=127.0.0.1:{ng_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} (Debian rtpengine-daemon)", binary.display()))?;
        let pid = child.id();
        let ng = UdpSocket::bind("127.0.0.1:0").await?;
        ng.connect(("127.0.0.1", ng_port)).await?;
        let sip = UdpSocket::bind("127.0.0.1:0").await?;
        let mut engine = Rtpengine { _process: Proc(child), pid, ng, sip, sipp, cookie: 0 };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match engine.ng(json!({"command": "ping"}), Duration::from_millis(200)).await {
                Ok(r) if r.text("result").as_deref() == Some("pong") => return Ok(engine),
                _ if tokio::time::Instant::now() < deadline => continue,
                Ok(r) => bail!("rtpengine answered the ping with {r:?}"),
                Err(e) => return Err(e.context("rtpengine did not answer on its ng port")),
            }
        }
    }

    /// One ng request and its reply; an error reply is an error.
    async fn ng(&mut self, request: Value, within: Duration) -> Result<Bencode> {
        self.cookie += 1;
        let cookie = format!("c{}", self.cookie);
        let mut out = format!("{cookie} ").into_bytes();
        Bencode::from_json(&request)?.encode(&mut out);
        self.ng.send(&out).await?;
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = tokio::time::timeout(within, self.ng.recv(&mut buf))
                .await
                .context("ng reply")??;
            let Some(space) = buf[..n].iter().position(|&b| b == b' ') else { continue };
            if buf[..space] != *cookie.as_bytes() {
                continue; // a late reply to an earlier request
            }
            let (reply, _) = Bencode::decode(&buf[space + 1..n])?;
            if reply.text("result").as_deref() == Some("error") {
                bail!("rtpengine: {}", reply.text("error-reason").unwrap_or_default());
            }
            return Ok(reply);
        }
    }

    /// Bridges the WebRTC client offering `offer` to a call to sipp, its media at `media`;
    /// returns the client's answer.
    pub async fn bridge(&mut self, call: usize, offer: &str, media: SocketAddr) -> Result<String> {
        let (call_id, from_tag) = (format!("bench-{call}"), format!("agent-{call}"));
        let within = Duration::from_secs(5);
        let to_sipp = self
            .ng(
                json!({"command": "offer", "call-id": call_id, "from-tag": from_tag, "sdp": offer,
                    "ICE": "remove", "DTLS": "off", "transport-protocol": "RTP/AVP",
                    "rtcp-mux": ["demux"]}),
                within,
            )
            .await?
            .text("sdp")
            .context("rtpengine's offer has no SDP")?;
        let local = self.sip.local_addr()?;
        let uri = format!("sip:+1555{call:07}@{}", self.sipp);
        let invite = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:bench@{local}>;tag={from_tag}\r\nTo: <{uri}>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:bench@{local}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{to_sipp}",
            to_sipp.len()
        );
        self.sip.send_to(invite.as_bytes(), self.sipp).await?;
        let mut buf = vec![0u8; 65_536];
        let ok = loop {
            let (n, _) = tokio::time::timeout(within, self.sip.recv_from(&mut buf))
                .await
                .context("sipp's 200")??;
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if header(&text, "call-id") != call_id {
                continue;
            }
            if text.starts_with("SIP/2.0 200") {
                break text;
            }
            if !text.starts_with("SIP/2.0 1") {
                bail!("sipp refused call {call}: {}", text.lines().next().unwrap_or(""));
            }
        };
        let to = header(&ok, "to").to_string();
        let to_tag = to.split(";tag=").nth(1).unwrap_or("").split(';').next().unwrap_or("");
        let ack = format!(
            "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id}-ack\r\n\
             Max-Forwards: 70\r\nFrom: <sip:bench@{local}>;tag={from_tag}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        );
        self.sip.send_to(ack.as_bytes(), self.sipp).await?;
        let sdp = ok.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let sdp = media_at(sdp, media);
        self.ng(
            json!({"command": "answer", "call-id": call_id, "from-tag": from_tag, "to-tag": to_tag,
                "sdp": sdp, "ICE": "force", "DTLS": "passive",
                "transport-protocol": "UDP/TLS/RTP/SAVPF", "rtcp-mux": ["require"]}),
            within,
        )
        .await?
        .text("sdp")
        .map(|answer| answered(&answer, offer))
        .context("rtpengine's answer has no SDP")
    }
}

/// `sdp` with its connection address and audio port replaced by `media`'s.
fn media_at(sdp: &str, media: SocketAddr) -> String {
    sdp.split_inclusive('\n')
        .map(|line| {
            if line.starts_with("c=IN IP4 ") {
                format!("c=IN IP4 {}\r\n", media.ip())
            } else if let Some(rest) = line.strip_prefix("m=audio ") {
                let formats = rest.split_once(' ').map_or("", |(_, f)| f);
                format!("m=audio {} {formats}", media.port())
            } else {
                line.to_string()
            }
        })
        .collect()
}

/// An RTP echo that sends each packet back to where it came from with its SSRC inverted, on a
/// thread of its own until dropped.
pub struct Reflector {
    pub address: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Reflector {
    pub fn start() -> Result<Reflector> {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let address = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else { continue };
                if n >= 12 && buf[0] >> 6 == 2 {
                    for b in &mut buf[8..12] {
                        *b = !*b;
                    }
                    let _ = socket.send_to(&buf[..n], from);
                }
            }
        });
        Ok(Reflector { address, stop })
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// rtpengine's `answer` to the client that sent `offer`, with what the signalling in front
/// of rtpengine adds for a WebRTC client that offered max-bundle (str0m, as browsers):
/// the session's BUNDLE group naming its one media section (rtpengine 10.5 leaves it out —
/// with one section it groups nothing — and the client refuses an answer without it), and
/// the SSRC the [`Reflector`] sends under (the client's own, inverted), which the client
/// needs to know the packets as its call's: rtpengine's answer declares no SSRC, and no
/// header extension either, so the packets' own `mid` is not read.
fn answered(answer: &str, offer: &str) -> String {
    let mid = answer.lines().find_map(|l| l.trim().strip_prefix("a=mid:"));
    let ssrc = offer
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=ssrc:")?.split(' ').next()?.parse::<u32>().ok());
    let (Some(mid), Some(ssrc), false) = (mid, ssrc, answer.contains("a=group:BUNDLE")) else {
        return answer.to_string();
    };
    let mut out = String::with_capacity(answer.len() + 64);
    for line in answer.split_inclusive('\n') {
        out.push_str(line);
        if line.starts_with("t=") {
            out.push_str(&format!("a=group:BUNDLE {mid}\r\n"));
        } else if line.starts_with("a=mid:") {
            out.push_str(&format!("a=ssrc:{} cname:reflector\r\n", !ssrc));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Bencode, answered, media_at};

    #[test]
    fn the_answer_is_bundled_and_the_media_pointed_at_the_reflector() {
        let sipp = "v=0\r\no=u 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                    m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let moved = media_at(sipp, "127.0.0.2:7000".parse().unwrap());
        assert!(
            moved.contains("c=IN IP4 127.0.0.2\r\n")
                && moved.contains("m=audio 7000 RTP/AVP 0\r\n"),
            "{moved}"
        );
        let answer = "v=0\r\ns=-\r\nt=0 0\r\nm=audio 1 UDP/TLS/RTP/SAVPF 0\r\na=mid:x\r\n";
        let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=ssrc:4294967290 cname:c\r\n";
        let b = answered(answer, offer);
        assert!(b.contains("t=0 0\r\na=group:BUNDLE x\r\nm=audio"), "{b}");
        assert!(b.contains("a=mid:x\r\na=ssrc:5 cname:reflector\r\n"), "{b}");
        assert_eq!(answered(&b, offer), b, "added once");
    }

    #[test]
    fn bencode_round_trips_and_refuses_what_is_cut_short() {
        let v = serde_json::json!({"command": "offer", "rtcp-mux": ["demux"], "n": 42});
        let mut out = Vec::new();
        Bencode::from_json(&v).unwrap().encode(&mut out);
        assert_eq!(out, b"d7:command5:offer1:ni42e8:rtcp-muxl5:demuxee");
        let (back, rest) = Bencode::decode(&out).unwrap();
        assert!(rest.is_empty());
        assert_eq!(back.text("command").as_deref(), Some("offer"));
        for cut in 0..out.len() {
            assert!(Bencode::decode(&out[..cut]).is_err(), "{cut}");
        }
    }
}
