//! Call recordings on disk: where they are, who may fetch them, and how long they stay.
//!
//! - [`RecordingFile`]: a recording's file name, made from its call attempt's id and nothing
//!   else — never from anything a person typed — so no name can leave the directory;
//! - [`routes`]: `GET /recordings/{attempt}` plays or downloads one (with HTTP ranges), from
//!   the server's directory or fetched from the standalone gateway that wrote it;
//! - [`gateway`]: what the gateway says of each recording's end (done with its length, or
//!   failed — a full disk), stored with the attempt, and asked again for the ones whose end
//!   this server missed;
//! - [`purge`]: the daily retention purge (a pure decision and a thin shell).
//!
//! Which calls are recorded is the engine's decision (`engine::recording`); the runtime's
//! recorder (`runtime::recorder`) asks the gateway and stores the file's state with the
//! attempt.

pub mod gateway;
pub mod purge;
pub mod routes;

use std::path::{Path, PathBuf};

/// A recording's file, relative to the recordings directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordingFile {
    attempt: i64,
}

impl RecordingFile {
    /// The file of attempt `attempt`'s recording.
    pub fn for_attempt(attempt: i64) -> RecordingFile {
        RecordingFile { attempt }
    }

    /// Its attempt's id.
    pub fn attempt(self) -> i64 {
        self.attempt
    }

    /// Its name, as stored with the attempt: `<attempt>.wav`.
    pub fn name(self) -> String {
        format!("{}.wav", self.attempt)
    }

    /// Where it is under `dir`.
    pub fn path_in(self, dir: &Path) -> PathBuf {
        dir.join(self.name())
    }

    /// Its name as the gateway is told it (the gateway writes it in its recordings directory).
    pub fn gateway_name(self) -> ::gateway::recording::RecordingName {
        // `<digits>.wav` is always a valid recording name.
        ::gateway::recording::RecordingName::parse(&self.name())
            .unwrap_or_else(|_| unreachable!("an attempt id makes a plain name"))
    }

    /// The recording a gateway names (`<attempt>.wav`), if the name is one of ours.
    pub fn of_gateway_name(name: &::gateway::recording::RecordingName) -> Option<RecordingFile> {
        let digits = name.as_str().strip_suffix(".wav")?;
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().filter(|n| *n > 0).map(RecordingFile::for_attempt)
    }
}

/// The recordings directory a server uses when none is configured: `recordings` next to its
/// SQLite database (the server's data directory), else `data/recordings`.
pub fn default_dir(database_url: &str) -> PathBuf {
    let sqlite_file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|f| !f.is_empty() && !f.contains(":memory:"));
    match sqlite_file.map(Path::new).and_then(Path::parent) {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join("recordings"),
        Some(_) => PathBuf::from("recordings"),
        None => PathBuf::from("data/recordings"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_named_after_its_attempt_only() {
        let f = RecordingFile::for_attempt(42);
        assert_eq!(f.name(), "42.wav");
        assert_eq!(f.path_in(Path::new("/var/rec")), PathBuf::from("/var/rec/42.wav"));
    }

    #[test]
    fn gateway_names_are_ours_only_when_they_name_an_attempt() {
        let f = RecordingFile::for_attempt(42);
        assert_eq!(f.gateway_name().as_str(), "42.wav");
        assert_eq!(RecordingFile::of_gateway_name(&f.gateway_name()), Some(f));
        for other in ["0.wav", "a42.wav", "42-1.wav", "9999999999999999999.wav"] {
            let name = ::gateway::recording::RecordingName::parse(other).unwrap();
            assert_eq!(RecordingFile::of_gateway_name(&name), None, "{other}");
        }
    }

    #[test]
    fn the_default_directory_is_next_to_the_database() {
        assert_eq!(default_dir("sqlite://data/dialer.db"), PathBuf::from("data/recordings"));
        assert_eq!(
            default_dir("sqlite:///tmp/x/d.db?mode=rwc"),
            PathBuf::from("/tmp/x/recordings")
        );
        assert_eq!(default_dir("sqlite://d.db"), PathBuf::from("recordings"));
        assert_eq!(default_dir("postgres://u@h/db"), PathBuf::from("data/recordings"));
    }
}
