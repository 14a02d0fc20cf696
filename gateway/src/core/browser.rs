//! An agent's browser in memory: a str0m `Rtc` offering one PCMU audio track, for driving the
//! [core](super) in virtual time with no sockets. The core's own tests and the server's (which
//! wire the core to the server's engine) use it as the agent's end of a call.
//!
//! It is sans-IO like everything it talks to: datagrams from the gateway go in with
//! [`Browser::receive`], what it sends comes out of [`Browser::poll`], and it says when it
//! next needs time ([`Browser::timeout`]). Invariant: every audio frame it receives is counted
//! once in [`Browser::heard`], and in [`Browser::heard_voice`] when it carries the marker
//! octet the test chose as "someone speaking" (generated silence never does).

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcError};

/// What can go wrong with the in-memory browser.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// str0m refused something (an answer, a datagram, a write).
    #[error("WebRTC: {0}")]
    Rtc(#[from] RtcError),
    /// The gateway's answer is not SDP.
    #[error("the answer is not SDP: {0}")]
    Answer(String),
    /// No answer was accepted yet, so there is no audio track to speak on.
    #[error("the audio track is not negotiated")]
    NoTrack,
}

/// The browser, before and after the gateway's answer.
pub struct Browser {
    rtc: Rtc,
    addr: SocketAddr,
    gateway: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    deadline: Option<Instant>,
    inbox: Vec<Vec<u8>>,
    connected: bool,
    voice: u8,
    heard: usize,
    heard_voice: usize,
    spoken: u64,
}

impl Browser {
    /// A browser at `addr` that will talk to the gateway's WebRTC socket at `gateway`, and its
    /// SDP offer (for [`crate::control::Command::CreateAgentLeg`]). Received frames containing
    /// the octet `voice` count as someone speaking.
    pub fn offer(
        now: Instant,
        addr: SocketAddr,
        gateway: SocketAddr,
        voice: u8,
    ) -> Result<(Browser, String), BrowserError> {
        let mut rtc = Rtc::builder().clear_codecs().enable_pcmu(true, false).build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").map_err(RtcError::from)?);
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().ok_or(BrowserError::NoTrack)?;
        let browser = Browser {
            rtc,
            addr,
            gateway,
            mid,
            pending: Some(pending),
            deadline: None,
            inbox: Vec::new(),
            connected: false,
            voice,
            heard: 0,
            heard_voice: 0,
            spoken: 0,
        };
        Ok((browser, offer.to_sdp_string()))
    }

    /// Takes the gateway's SDP answer.
    pub fn accept(&mut self, answer: &str) -> Result<(), BrowserError> {
        let pending = self.pending.take().ok_or(BrowserError::NoTrack)?;
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| BrowserError::Answer(e.to_string()))?;
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        Ok(())
    }

    /// A datagram from the gateway's WebRTC socket (handled at the next [`Browser::poll`]).
    pub fn receive(&mut self, data: Vec<u8>) {
        self.inbox.push(data);
    }

    /// Handles what was received and returns the datagrams to send to the gateway (empty
    /// when the browser is quiet).
    pub fn poll(&mut self, now: Instant) -> Result<Vec<Vec<u8>>, BrowserError> {
        for data in std::mem::take(&mut self.inbox) {
            let receive = Receive::new(Protocol::Udp, self.gateway, self.addr, &data)
                .map_err(RtcError::from)?;
            self.rtc.handle_input(Input::Receive(now, receive))?;
        }
        let mut send = Vec::new();
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => {
                    self.deadline = Some(t);
                    return Ok(send);
                }
                Output::Transmit(t) => send.push(t.contents.into()),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::MediaData(m)) => {
                    self.heard += 1;
                    self.heard_voice += usize::from(m.data.contains(&self.voice));
                }
                Output::Event(_) => {}
            }
        }
    }

    /// When the browser next needs [`Browser::handle_timeout`].
    pub fn timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time passed: fires str0m's timers (then [`Browser::poll`]).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), BrowserError> {
        self.deadline = None;
        self.rtc.handle_input(Input::Timeout(now))?;
        Ok(())
    }

    /// Sends one 20 ms PCMU frame of `octet`s (then [`Browser::poll`]): the agent speaking
    /// (any octet but 0xff) or silent.
    pub fn speak(&mut self, now: Instant, octet: u8) -> Result<(), BrowserError> {
        let writer = self.rtc.writer(self.mid).ok_or(BrowserError::NoTrack)?;
        let pt = writer.payload_params().next().ok_or(BrowserError::NoTrack)?.pt();
        let time = MediaTime::new(self.spoken * 160, Frequency::EIGHT_KHZ);
        writer.write(pt, now, time, vec![octet; 160])?;
        self.spoken += 1;
        Ok(())
    }

    /// ICE and DTLS are up.
    pub fn connected(&self) -> bool {
        self.connected
    }

    /// Audio frames received.
    pub fn heard(&self) -> usize {
        self.heard
    }

    /// Of those, frames carrying the voice octet.
    pub fn heard_voice(&self) -> usize {
        self.heard_voice
    }

    /// The browser's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
