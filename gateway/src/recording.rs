//! Call recordings on the gateway's machine: their names, the files being written, and what
//! became of each one.
//!
//! - [`RecordingName`]: a recording's file name as a client gives it — a plain name ending in
//!   `.wav`, never a path — so every recording lives in the gateway's recordings directory
//!   and nothing a client sends can point outside it;
//! - [`Writer`]: one stereo 8 kHz 16-bit WAV being written; the first write error (a full
//!   disk, any I/O error) ends it for good, and it is never written again;
//! - [`Open`]: the recordings being written, by call, as the runtime's shell holds them;
//! - [`Ledger`]: what became of each recording (being written, done with its length, failed
//!   with the reason), shared between the shell that writes, the control API that answers
//!   [`Command::RecordingStatus`](crate::control::Command::RecordingStatus) and the HTTP API
//!   that serves the files. A name the ledger no longer holds (the gateway restarted) is
//!   judged by its file: a WAV whose header was finalised is done, any other file failed.
//!
//! Invariants: a recording ends exactly once (done or failed) and its end is reported once
//! ([`Ended`]); after a write error nothing more reaches the file (its [`Fuse`] has blown:
//! not the rest of a buffer, not a header update); the ledger keeps at most
//! [`LEDGER_CAPACITY`] names (the oldest forgotten first).

use std::collections::{HashMap, VecDeque};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::call::CallId;

/// How many recordings the ledger remembers: days of a busy gateway's calls.
pub const LEDGER_CAPACITY: usize = 65_536;

/// Samples per second per channel.
const RATE: u32 = 8000;

/// A recording's file name in the gateway's recordings directory: 1–64 ASCII letters, digits,
/// `-` or `_`, then `.wav` (no dots, slashes or anything else a path could be made of).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordingName(String);

/// Why a recording name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordingError {
    /// Not a plain `NAME.wav`.
    #[error("{0:?} is not a recording name (1-64 letters, digits, - or _, then .wav)")]
    BadName(String),
    /// The file could not be created or written.
    #[error("{0}")]
    Io(String),
}

impl RecordingName {
    /// Parses a name, refusing anything that is not a plain `NAME.wav`.
    pub fn parse(name: &str) -> Result<RecordingName, RecordingError> {
        let stem = name.strip_suffix(".wav").unwrap_or("");
        let ok = (1..=64).contains(&stem.len())
            && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(RecordingName(name.to_owned()))
        } else {
            Err(RecordingError::BadName(name.into()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its file in `dir`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(&self.0)
    }
}

impl std::fmt::Display for RecordingName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RecordingName {
    type Error = RecordingError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RecordingName::parse(&s)
    }
}

impl From<RecordingName> for String {
    fn from(n: RecordingName) -> String {
        n.0
    }
}

/// How a recording ended (in [`Event::RecordingEnded`](crate::control::Event::RecordingEnded)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RecordingResult {
    /// Complete: the file is a valid WAV of this length.
    Done {
        /// Milliseconds of audio.
        duration_ms: u64,
    },
    /// Not complete: writing failed (the call went on unrecorded from then).
    Failed {
        /// Why, e.g. "No space left on device (os error 28)".
        reason: String,
    },
}

/// What the gateway knows of a recording (the answer to
/// [`Command::RecordingStatus`](crate::control::Command::RecordingStatus)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RecordingStatus {
    /// Being written.
    Recording,
    /// Complete.
    Done {
        /// Milliseconds of audio.
        duration_ms: u64,
    },
    /// Not complete.
    Failed {
        /// Why.
        reason: String,
    },
    /// No such recording here.
    Unknown,
}

impl From<RecordingResult> for RecordingStatus {
    fn from(r: RecordingResult) -> Self {
        match r {
            RecordingResult::Done { duration_ms } => RecordingStatus::Done { duration_ms },
            RecordingResult::Failed { reason } => RecordingStatus::Failed { reason },
        }
    }
}

/// A recording that ended: what to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// Its call.
    pub call: CallId,
    /// Its file.
    pub name: RecordingName,
    /// How it ended.
    pub result: RecordingResult,
}

/// A file that takes no more writes after its first error: what a recording is written
/// through (under any buffer), so a full disk is not written to again by a buffer's or a WAV
/// header's last flush when the recording is given up.
pub struct Fuse<W> {
    inner: W,
    blown: bool,
}

impl<W> Fuse<W> {
    /// `inner`, not blown.
    pub fn new(inner: W) -> Self {
        Fuse { inner, blown: false }
    }
}

fn blown() -> std::io::Error {
    std::io::Error::other("the recording was given up after a write error")
}

impl<W: Write> Write for Fuse<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.blown {
            return Err(blown());
        }
        self.inner.write(buf).inspect_err(|_| self.blown = true)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.blown {
            return Err(blown());
        }
        self.inner.flush().inspect_err(|_| self.blown = true)
    }
}

impl<W: Seek> Seek for Fuse<W> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        if self.blown {
            return Err(blown());
        }
        self.inner.seek(pos).inspect_err(|_| self.blown = true)
    }
}

/// One WAV file being written (stereo, 8 kHz, 16-bit).
pub struct Writer<W: Write + Seek> {
    wav: hound::WavWriter<W>,
    /// Sample frames (one per channel pair) written.
    frames: u64,
}

fn spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

fn io_reason(e: hound::Error) -> String {
    match e {
        hound::Error::IoError(io) => io.to_string(),
        other => other.to_string(),
    }
}

impl<W: Write + Seek> Writer<W> {
    /// Starts a WAV in `inner` (its header is written at once).
    pub fn new(inner: W) -> Result<Self, RecordingError> {
        let wav =
            hound::WavWriter::new(inner, spec()).map_err(|e| RecordingError::Io(io_reason(e)))?;
        Ok(Writer { wav, frames: 0 })
    }

    /// Appends interleaved stereo samples.
    pub fn write(&mut self, samples: &[i16]) -> Result<(), RecordingError> {
        for &s in samples {
            self.wav.write_sample(s).map_err(|e| RecordingError::Io(io_reason(e)))?;
        }
        self.frames += samples.len() as u64 / 2;
        Ok(())
    }

    /// Milliseconds written so far.
    pub fn duration_ms(&self) -> u64 {
        self.frames * 1000 / u64::from(RATE)
    }

    /// Finalises the header (sizes) and flushes: the file is then a valid WAV.
    pub fn finish(self) -> Result<u64, RecordingError> {
        let ms = self.duration_ms();
        self.wav.finalize().map_err(|e| RecordingError::Io(io_reason(e)))?;
        Ok(ms)
    }
}

/// The recordings being written, by call: the shell's side of the core's
/// `OpenRecording` / `Record` / `CloseRecording` outputs.
pub struct Open<W: Write + Seek> {
    writers: HashMap<CallId, (RecordingName, Writer<W>)>,
}

impl<W: Write + Seek> Default for Open<W> {
    fn default() -> Self {
        Open { writers: HashMap::new() }
    }
}

impl<W: Write + Seek> Open<W> {
    /// Starts `call`'s recording into `inner`. A recording the call had is ended first (its
    /// end returned with the error, if any).
    pub fn open(
        &mut self,
        call: CallId,
        name: RecordingName,
        inner: W,
    ) -> (Option<Ended>, Result<(), RecordingError>) {
        let before = self.close(call);
        let result = Writer::new(inner).map(|w| {
            self.writers.insert(call, (name, w));
        });
        (before, result)
    }

    /// Appends to `call`'s recording. A write error ends it (failed) and drops the writer,
    /// so nothing more is written; that end is returned, once.
    pub fn write(&mut self, call: CallId, samples: &[i16]) -> Option<Ended> {
        let (_, writer) = self.writers.get_mut(&call)?;
        let Err(e) = writer.write(samples) else { return None };
        // Dropped: its fuse (under the buffer) has blown, so nothing more reaches the file.
        let (name, _) = self.writers.remove(&call)?;
        let reason = match e {
            RecordingError::Io(reason) => reason,
            other => other.to_string(),
        };
        Some(Ended { call, name, result: RecordingResult::Failed { reason } })
    }

    /// Ends `call`'s recording: the header finalised (done), or failed when that fails.
    pub fn close(&mut self, call: CallId) -> Option<Ended> {
        let (name, writer) = self.writers.remove(&call)?;
        let result = match writer.finish() {
            Ok(duration_ms) => RecordingResult::Done { duration_ms },
            Err(e) => RecordingResult::Failed { reason: e.to_string() },
        };
        Some(Ended { call, name, result })
    }

    /// Whether `call` is being recorded.
    pub fn is_open(&self, call: CallId) -> bool {
        self.writers.contains_key(&call)
    }
}

#[derive(Debug, Default)]
struct Book {
    status: HashMap<RecordingName, RecordingStatus>,
    /// Names in the order first seen, for forgetting the oldest.
    order: VecDeque<RecordingName>,
}

/// What became of each recording, and where the files are (cheap to clone; clones share it).
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
    book: Arc<Mutex<Book>>,
}

impl Ledger {
    /// A ledger for recordings in `dir`.
    pub fn new(dir: PathBuf) -> Ledger {
        Ledger { dir, book: Arc::default() }
    }

    /// The recordings directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes `name`'s new status.
    pub fn set(&self, name: &RecordingName, status: RecordingStatus) {
        let mut book = self.book();
        if book.status.insert(name.clone(), status).is_none() {
            book.order.push_back(name.clone());
            while book.order.len() > LEDGER_CAPACITY {
                if let Some(old) = book.order.pop_front() {
                    book.status.remove(&old);
                }
            }
        }
    }

    /// What is known of `name`: the ledger's word, else its file's.
    pub fn status(&self, name: &RecordingName) -> RecordingStatus {
        if let Some(s) = self.book().status.get(name) {
            return s.clone();
        }
        let path = name.path_in(&self.dir);
        if !path.is_file() {
            return RecordingStatus::Unknown;
        }
        match hound::WavReader::open(&path) {
            // hound sizes the data from the header: an unfinalised one says nothing was
            // written, while the file holds more than the header.
            Ok(r) => {
                let frames = u64::from(r.duration());
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                if frames == 0 && len > 44 {
                    RecordingStatus::Failed {
                        reason: "the file is incomplete (the gateway stopped while recording)"
                            .into(),
                    }
                } else {
                    RecordingStatus::Done { duration_ms: frames * 1000 / u64::from(RATE) }
                }
            }
            Err(e) => RecordingStatus::Failed { reason: format!("the file is not a WAV: {e}") },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn names_are_plain_wav_files_only() {
        for good in ["42.wav", "call-7_a.wav", &format!("{}.wav", "a".repeat(64))] {
            assert_eq!(RecordingName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            ".wav",
            "42",
            "42.WAV",
            "../42.wav",
            "/tmp/42.wav",
            "a/b.wav",
            "..wav",
            "4.2.wav",
            "42.wav\0",
            " 42.wav",
            "%2e%2e.wav",
            &format!("{}.wav", "a".repeat(65)),
        ] {
            assert!(RecordingName::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&RecordingName::parse("42.wav").unwrap()).unwrap();
        assert_eq!(json, r#""42.wav""#);
        assert!(serde_json::from_str::<RecordingName>(r#""../etc/passwd""#).is_err());
    }

    /// A disk with `room` bytes: then every write fails as a full disk's does (and is
    /// counted).
    struct FullDisk {
        inner: Cursor<Vec<u8>>,
        room: usize,
        refused: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl FullDisk {
        fn new(room: usize) -> Self {
            FullDisk { inner: Cursor::new(Vec::new()), room, refused: Arc::default() }
        }
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let end = self.inner.position() as usize + buf.len();
            if end > self.room.max(self.inner.get_ref().len()) {
                self.refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return Err(std::io::Error::from_raw_os_error(28));
            }
            self.inner.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Seek for FullDisk {
        fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    fn name(n: &str) -> RecordingName {
        RecordingName::parse(n).unwrap()
    }

    #[test]
    fn a_full_disk_fails_the_recording_once_and_nothing_more_is_written() {
        let mut open = Open::default();
        let call = CallId(7);
        // Room for the header and a little audio: 20 ms is 160 frames, 640 bytes; the buffer
        // in front of the disk is what the gateway writes through.
        let disk = FullDisk::new(44 + 1000);
        let refused = disk.refused.clone();
        let file = std::io::BufWriter::with_capacity(256, Fuse::new(disk));
        let (before, opened) = open.open(call, name("7.wav"), file);
        assert!(before.is_none());
        assert!(opened.is_ok());
        let frame = vec![1i16; 320];
        assert_eq!(open.write(call, &frame), None, "the first 20 ms fit");
        let ended = open.write(call, &frame).expect("the second does not");
        assert_eq!(
            refused.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the disk was asked once: no buffer flush or header update after the error"
        );
        assert_eq!(ended.call, call);
        assert_eq!(ended.name, name("7.wav"));
        let RecordingResult::Failed { reason } = &ended.result else { panic!("{ended:?}") };
        assert!(reason.contains("No space left on device"), "{reason}");
        assert!(!open.is_open(call), "stopped");
        // The call goes on: further audio and the call's end change nothing.
        assert_eq!(open.write(call, &frame), None);
        assert_eq!(open.close(call), None, "its end was reported once");
    }

    #[test]
    fn a_failing_writer_is_never_written_after_its_error() {
        let disk = FullDisk::new(44);
        let refused = disk.refused.clone();
        let mut w = Writer::new(Fuse::new(disk)).expect("the header fits");
        assert!(w.write(&[0; 2]).is_err());
        assert!(w.write(&[0; 2]).is_err());
        assert!(w.finish().is_err(), "no header update either");
        assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 1);
        let mut open = Open::default();
        let (_, r) = open.open(CallId(1), name("1.wav"), Fuse::new(FullDisk::new(10)));
        assert!(matches!(r, Err(RecordingError::Io(ref m)) if m.contains("No space")), "{r:?}");
        assert!(!open.is_open(CallId(1)), "a file whose header cannot be written is not open");
    }

    #[test]
    fn a_closed_recording_is_a_valid_wav_of_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let n = name("9.wav");
        let file = std::fs::File::create(n.path_in(dir.path())).unwrap();
        let mut open = Open::default();
        assert!(open.open(CallId(9), n.clone(), std::io::BufWriter::new(file)).1.is_ok());
        for _ in 0..50 {
            assert_eq!(open.write(CallId(9), &[3i16; 320]), None);
        }
        let ended = open.close(CallId(9)).unwrap();
        assert_eq!(ended.result, RecordingResult::Done { duration_ms: 1000 });
        let wav = hound::WavReader::open(n.path_in(dir.path())).unwrap();
        assert_eq!((wav.spec().channels, wav.duration()), (2, 8000));
        // Reopening for the same call ends the first one.
        let file = std::fs::File::create(dir.path().join("10.wav")).unwrap();
        let mut open = Open::default();
        assert!(open.open(CallId(9), name("10.wav"), std::io::BufWriter::new(file)).1.is_ok());
        let file = std::fs::File::create(dir.path().join("11.wav")).unwrap();
        let (before, r) = open.open(CallId(9), name("11.wav"), std::io::BufWriter::new(file));
        assert!(r.is_ok());
        assert_eq!(before.map(|e| e.name), Some(name("10.wav")));
    }

    #[test]
    fn the_ledger_answers_from_memory_then_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path().to_path_buf());
        let n = name("5.wav");
        assert_eq!(ledger.status(&n), RecordingStatus::Unknown);
        ledger.set(&n, RecordingStatus::Recording);
        assert_eq!(ledger.status(&n), RecordingStatus::Recording);
        ledger.set(&n, RecordingStatus::Failed { reason: "disk full".into() });
        assert_eq!(ledger.status(&n), RecordingStatus::Failed { reason: "disk full".into() });
        // A restarted gateway: the files say.
        let fresh = Ledger::new(dir.path().to_path_buf());
        let mut w = hound::WavWriter::create(dir.path().join("6.wav"), spec()).unwrap();
        for _ in 0..16_000 {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(fresh.status(&name("6.wav")), RecordingStatus::Done { duration_ms: 1000 });
        // A file whose header was never finalised (the gateway died while writing).
        let mut w = hound::WavWriter::create(dir.path().join("8.wav"), spec()).unwrap();
        for _ in 0..16_000 {
            w.write_sample(0i16).unwrap();
        }
        // (Neither flushed nor dropped: either would write the sizes.)
        std::mem::forget(w);
        assert!(matches!(fresh.status(&name("8.wav")), RecordingStatus::Failed { .. }));
        std::fs::write(dir.path().join("3.wav"), b"not a wav").unwrap();
        assert!(matches!(fresh.status(&name("3.wav")), RecordingStatus::Failed { .. }));
    }
}
