//! The recorder: carries out the engine's recording steps ([`Output::Recording`]) — asks the
//! carrier to record into the file named after the call's attempt, and stores the
//! recording's state with the attempt, and where the file is (the server's own directory for
//! the embedded gateway, the address of the standalone gateway carrying the call otherwise).
//!
//! Invariants: steps are carried out one at a time in the order the engine emitted them (one
//! task), so a call's end never overtakes its start; a recording that cannot be started (the
//! directory cannot be created or written, a full disk, the carrier refuses) never touches
//! the call — the attempt is marked failed and the failure logged; the file is
//! `<attempt id>.wav` in the gateway's recordings directory and nothing else. How a
//! recording ended is the gateway's to say (`recording::gateway`); the engine's "the call
//! ended" only marks one still under way done, for a gateway that says nothing.
//!
//! [`Output::Recording`]: crate::engine::Output::Recording

use std::sync::Arc;

use app::model::recording::RecordingState;
use tokio::sync::mpsc;

use super::carrier::Carrier;
use super::clock::Clock;
use crate::db::{self, Db};
use crate::engine::{CallId, RecordingStep};
use crate::recording::RecordingFile;

/// One step for the recorder.
#[derive(Clone, Debug)]
pub struct Job {
    pub call: CallId,
    pub call_ref: String,
    pub step: RecordingStep,
}

/// Tells the dialer a call's recording could not start (the call goes on unrecorded).
pub type Failed = Box<dyn Fn(CallId) + Send + Sync>;

/// Starts the recorder task; steps go to the returned sender.
pub fn start(
    db: Db,
    carrier: Arc<dyn Carrier>,
    clock: Arc<dyn Clock>,
    failed: Failed,
) -> mpsc::UnboundedSender<Job> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    tokio::spawn(async move {
        let recorder = Recorder { db, carrier, clock, failed };
        while let Some(job) = rx.recv().await {
            recorder.run(job).await;
        }
    });
    tx
}

struct Recorder {
    db: Db,
    carrier: Arc<dyn Carrier>,
    clock: Arc<dyn Clock>,
    failed: Failed,
}

impl Recorder {
    async fn run(&self, job: Job) {
        let attempt = match db::recordings::attempt_id(&self.db, &job.call_ref).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                tracing::warn!(call = %job.call_ref, "no attempt for a recorded call");
                return;
            }
            Err(e) => {
                tracing::error!(call = %job.call_ref, error = %e, "cannot find a recorded call");
                return;
            }
        };
        let result = match job.step {
            RecordingStep::Start => self.start(job.call, attempt).await,
            RecordingStep::Stop => {
                if let Err(e) = self.carrier.record(job.call, None).await {
                    // The call may have ended meanwhile: the file was closed with it.
                    tracing::debug!(call = %job.call_ref, error = %e, "stopping a recording");
                }
                db::recordings::finished(&self.db, attempt, RecordingState::Done).await
            }
            RecordingStep::CallEnded => {
                db::recordings::finished(&self.db, attempt, RecordingState::Done).await
            }
        };
        if let Err(e) = result {
            tracing::error!(call = %job.call_ref, error = %e, "cannot store a recording's state");
        }
    }

    async fn start(&self, call: CallId, attempt: i64) -> Result<(), db::DbError> {
        let file = RecordingFile::for_attempt(attempt);
        // The gateway creates the file (and its directory) itself.
        let (state, error) = match self.carrier.record(call, Some(&file.gateway_name())).await {
            Ok(()) => (RecordingState::Recording, None),
            Err(e) => {
                // The call goes on unrecorded; the attempt says so, and its agent and the
                // floor stop showing it recorded.
                tracing::error!(attempt, error = %e, "a call could not be recorded");
                (self.failed)(call);
                (RecordingState::Failed, Some(e.to_string()))
            }
        };
        let now = self.clock.now().wall;
        let gateway = self.carrier.recordings_at(call);
        db::recordings::started(
            &self.db,
            attempt,
            &file.name(),
            gateway.as_deref(),
            state,
            error.as_deref(),
            now,
        )
        .await
    }
}
