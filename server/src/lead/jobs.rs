//! Running lead imports: the streaming importer (chunks in, batches of leads into the
//! database) and the registry of import jobs whose progress the upload page polls.
//!
//! Invariants:
//! - memory per import is bounded: one chunk, one CSV record, a few batches of [`BATCH_ROWS`]
//!   leads (the one being parsed, two queued, one being prepared for the database and one
//!   being stored), and at most [`MAX_STORED_ERRORS`] row errors (later ones are only counted);
//! - each batch is one transaction (one INSERT reading the batch as JSON on SQLite, COPY on
//!   PostgreSQL), so the dialer is never locked out for long on SQLite, and a failed import
//!   keeps the batches before the failure — the status says where it stopped;
//! - a number is stored once per leadset: numbers already there, or earlier in the same file,
//!   are reported as duplicates with their row;
//! - every time zone a stored lead has is in `leadset_zones` (written in the same transaction
//!   as the leads).

use app::model::leadset::{ImportMapping, ImportStatus, RowError};
use app::model::report::csv_cell;
use app::model::{LeadsetId, UserId};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use super::import::{CsvStream, HEAD_BYTES, ImportError, Normaliser, check_head};
use crate::db::leads::{ImportBatch, NewLead};
use crate::db::{self, Db, DbError};

/// Leads per transaction.
pub const BATCH_ROWS: usize = 5000;

/// Row errors kept for the report; beyond this they are counted only.
pub const MAX_STORED_ERRORS: usize = 100_000;

/// Row errors included in a status answer (the CSV report has all stored ones).
const ERRORS_IN_STATUS: usize = 100;

/// Finished jobs are forgotten after this long.
const KEEP_FINISHED: Duration = Duration::from_secs(3600);

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    File(#[from] ImportError),
    #[error(transparent)]
    Fetch(#[from] super::fetch::FetchError),
    #[error("The upload was interrupted: {0}")]
    Upload(String),
    #[error("The database failed while importing; rows up to {rows} were processed.")]
    Db { rows: u64, source: DbError },
}

/// One import: who started it, for which leadset, and how it goes.
pub struct Job {
    pub id: u64,
    pub leadset: LeadsetId,
    pub owner: UserId,
    status: Mutex<ImportStatus>,
    errors: Mutex<Vec<RowError>>,
    finished_at: Mutex<Option<Instant>>,
    /// How to read the upload still to come (taken by the one request that sends it).
    input: Mutex<Option<(ImportMapping, phonenumber::country::Id)>>,
}

impl Job {
    fn status_mut(&self) -> MutexGuard<'_, ImportStatus> {
        // Counters only: a poisoned lock still holds usable numbers.
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn errors_mut(&self) -> MutexGuard<'_, Vec<RowError>> {
        self.errors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current status with the first row errors.
    pub fn status(&self) -> ImportStatus {
        let mut s = self.status_mut().clone();
        s.errors = self.errors_mut().iter().take(ERRORS_IN_STATUS).cloned().collect();
        s
    }

    /// Every stored row error as CSV (`row,value,reason`), for download.
    pub fn errors_csv(&self) -> String {
        let mut out = String::from("row,value,reason\r\n");
        for e in self.errors_mut().iter() {
            out.push_str(&format!("{},{},{}\r\n", e.row, csv_cell(&e.value), csv_cell(&e.reason)));
        }
        out
    }

    /// Keeps row errors for the report, up to [`MAX_STORED_ERRORS`].
    fn add_errors(&self, errors: impl Iterator<Item = RowError>) {
        let mut stored = self.errors_mut();
        let room = MAX_STORED_ERRORS.saturating_sub(stored.len());
        stored.extend(errors.take(room));
    }

    /// Claims the job's input: only one upload may feed a job.
    pub fn take_input(&self) -> Option<(ImportMapping, phonenumber::country::Id)> {
        self.input.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Sets the expected size, when known.
    pub fn set_total(&self, total: Option<u64>) {
        self.status_mut().total_bytes = total;
    }

    /// Marks the job finished, with the reason if it failed.
    pub fn finish(&self, failure: Option<String>) {
        let mut s = self.status_mut();
        s.done = true;
        s.failed = failure;
        *self.finished_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }
}

/// The import jobs of this server instance.
#[derive(Clone, Default)]
pub struct ImportJobs {
    jobs: Arc<Mutex<HashMap<u64, Arc<Job>>>>,
    next: Arc<AtomicU64>,
}

impl ImportJobs {
    fn map(&self) -> MutexGuard<'_, HashMap<u64, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new job (and forgets old finished ones). `input`: how to read a file
    /// that will be uploaded to it (None when the server fetches the file itself).
    pub fn create(
        &self,
        leadset: LeadsetId,
        owner: UserId,
        input: Option<(ImportMapping, phonenumber::country::Id)>,
    ) -> Arc<Job> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(Job {
            id,
            leadset,
            owner,
            status: Mutex::new(ImportStatus { job: id, ..ImportStatus::default() }),
            errors: Mutex::new(Vec::new()),
            finished_at: Mutex::new(None),
            input: Mutex::new(input),
        });
        let mut map = self.map();
        map.retain(|_, j| {
            j.finished_at
                .lock()
                .map(|f| f.is_none_or(|at| at.elapsed() < KEEP_FINISHED))
                .unwrap_or(true)
        });
        map.insert(id, job.clone());
        job
    }

    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.map().get(&id).cloned()
    }
}

/// Feeds a file, chunk by chunk, into a leadset. Parsing and normalising happen in the
/// caller's task; a writer task stores full batches meanwhile (at most [`QUEUED_BATCHES`]
/// waiting), so reading and writing overlap on two cores.
pub struct Importer {
    job: Arc<Job>,
    normaliser: Normaliser,
    stream: CsvStream,
    /// The file's first bytes, held until the encoding check has seen enough of them.
    head: Option<Vec<u8>>,
    batch: Vec<(u64, NewLead)>,
    rejected: Vec<RowError>,
    to_writer: mpsc::Sender<Vec<(u64, NewLead)>>,
    writer: tokio::task::JoinHandle<Result<(), JobError>>,
}

/// Batches parsed ahead of the database.
const QUEUED_BATCHES: usize = 2;

impl Importer {
    /// `mapping` must be valid; `country` is the leadset's default country.
    pub fn new(
        db: Db,
        job: Arc<Job>,
        mapping: ImportMapping,
        country: phonenumber::country::Id,
    ) -> Importer {
        let stream = CsvStream::new(mapping.delimiter);
        let (to_writer, batches) = mpsc::channel(QUEUED_BATCHES);
        let writer = tokio::spawn(write_batches(db, job.clone(), batches));
        Importer {
            job,
            normaliser: Normaliser::new(mapping, country),
            stream,
            head: Some(Vec::new()),
            batch: Vec::with_capacity(BATCH_ROWS),
            rejected: Vec::new(),
            to_writer,
            writer,
        }
    }

    /// Takes the next chunk of the file.
    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), JobError> {
        self.job.status_mut().bytes += chunk.len() as u64;
        if let Some(head) = &mut self.head {
            head.extend_from_slice(chunk);
            if head.len() < HEAD_BYTES {
                return Ok(());
            }
            let head = self.head.take().unwrap_or_default();
            check_head(&head)?;
            return self.parse(&head, false).await;
        }
        self.parse(chunk, false).await
    }

    /// Imports a whole file from its chunks. If a chunk is an error (an upload cut off, a
    /// download failing), the rows already handed to the database are still stored and
    /// counted before the error is returned, so the job's numbers match the leadset.
    pub async fn run<S>(mut self, chunks: S) -> Result<ImportStatus, JobError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, JobError>>,
    {
        let mut chunks = std::pin::pin!(chunks);
        while let Some(chunk) = chunks.next().await {
            let pushed = match chunk {
                Ok(chunk) => self.push(&chunk).await,
                Err(e) => Err(e),
            };
            if let Err(e) = pushed {
                let Importer { to_writer, writer, .. } = self;
                drop(to_writer);
                // The stored rows are counted by the writer; its own error matters less
                // than the first one.
                let _ = join(writer).await;
                return Err(e);
            }
        }
        self.finish().await
    }

    /// Ends the file: the last row, the last batch, and waits for the writer. Returns the
    /// final status.
    pub async fn finish(mut self) -> Result<ImportStatus, JobError> {
        if let Some(head) = self.head.take() {
            check_head(&head)?;
            self.parse(&head, true).await?;
        } else {
            self.parse(&[], true).await?;
        }
        self.record_rejected();
        if !self.batch.is_empty() {
            let part = std::mem::take(&mut self.batch);
            self.send(part).await?;
        }
        let Importer { job, to_writer, writer, .. } = self;
        drop(to_writer);
        join(writer).await?;
        job.finish(None);
        Ok(job.status())
    }

    async fn parse(&mut self, bytes: &[u8], last: bool) -> Result<(), JobError> {
        let Importer { stream, normaliser, batch, rejected, .. } = self;
        let mut each = |row: u64, cells: &[&[u8]]| {
            if normaliser.skips(row) {
                return;
            }
            match normaliser.lead(row, cells) {
                Ok(lead) => batch.push((row, lead)),
                Err(e) => rejected.push(e),
            }
        };
        stream.feed(bytes, &mut each);
        if last {
            stream.finish(&mut each);
        }
        self.record_rejected();
        self.job.status_mut().rows = self.stream.rows();
        while self.batch.len() >= BATCH_ROWS {
            let rest = self.batch.split_off(BATCH_ROWS);
            let part = std::mem::replace(&mut self.batch, rest);
            self.send(part).await?;
        }
        Ok(())
    }

    /// Hands a batch to the writer; if the writer has stopped, its error.
    async fn send(&mut self, part: Vec<(u64, NewLead)>) -> Result<(), JobError> {
        if self.to_writer.send(part).await.is_err() {
            let writer = std::mem::replace(&mut self.writer, tokio::spawn(async { Ok(()) }));
            join(writer).await?;
            return Err(JobError::Upload("the import stopped".into()));
        }
        Ok(())
    }

    fn record_rejected(&mut self) {
        if self.rejected.is_empty() {
            return;
        }
        let n = self.rejected.len() as u64;
        self.job.add_errors(self.rejected.drain(..));
        self.job.status_mut().invalid += n;
    }
}

async fn join(writer: tokio::task::JoinHandle<Result<(), JobError>>) -> Result<(), JobError> {
    match writer.await {
        Ok(r) => r,
        Err(e) => Err(JobError::Upload(format!("the import's writer failed: {e}"))),
    }
}

/// Stores batches as they come, each in one transaction, and counts what happened. Each batch
/// is prepared for the database (written out in its bulk format) while the one before it is
/// being stored, so the database does not wait for that work; one batch is stored at a time,
/// in order.
async fn write_batches(
    db: Db,
    job: Arc<Job>,
    mut batches: mpsc::Receiver<Vec<(u64, NewLead)>>,
) -> Result<(), JobError> {
    let mut zones: HashSet<String> = HashSet::new();
    let mut storing: Option<Storing> = None;
    while let Some(part) = batches.recv().await {
        let new_zones: Vec<String> = part
            .iter()
            .map(|(_, l)| &l.timezone)
            .filter(|z| !zones.contains(*z))
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // Stored by this batch's transaction, or the import stops at it.
        zones.extend(new_zones.iter().cloned());
        let (rows, leads): (Vec<u64>, Vec<NewLead>) = part.into_iter().unzip();
        let batch = ImportBatch::prepare(&db, job.leadset, leads, new_zones, db::now_ms());
        if let Some(previous) = storing.take() {
            count_stored(&job, previous).await?;
        }
        storing = Some(tokio::spawn(async move {
            let stored = batch.store().await;
            (rows, batch, stored)
        }));
    }
    if let Some(last) = storing {
        count_stored(&job, last).await?;
    }
    Ok(())
}

/// A batch being stored: its rows, the batch, and what storing it gave.
type Storing = tokio::task::JoinHandle<(Vec<u64>, ImportBatch, Result<Vec<bool>, DbError>)>;

/// Waits for a batch to be stored and counts its leads stored and its duplicates.
async fn count_stored(job: &Job, storing: Storing) -> Result<(), JobError> {
    let (rows, batch, stored) =
        storing.await.map_err(|e| JobError::Upload(format!("the import's writer failed: {e}")))?;
    let stored = stored.map_err(|source| JobError::Db { rows: job.status_mut().rows, source })?;
    let mut inserted = 0;
    let mut duplicates = Vec::new();
    for ((row, lead), ok) in rows.into_iter().zip(batch.leads()).zip(stored) {
        if ok {
            inserted += 1;
        } else {
            duplicates.push(RowError {
                row,
                value: lead.phone.to_string(),
                reason: "Duplicate: this leadset already has this number.".into(),
            });
        }
    }
    let dup = duplicates.len() as u64;
    job.add_errors(duplicates.into_iter());
    let mut s = job.status_mut();
    s.inserted += inserted;
    s.duplicates += dup;
    Ok(())
}
