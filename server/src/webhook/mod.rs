//! Webhook deliveries: each campaign with a webhook has its call events (answered, ended with
//! a disposition) posted to it, signed, from the durable outbox `db::journal` fills.
//!
//! - [`schedule`]: when a failed delivery is tried again, and when it is given up (pure);
//! - [`signature`]: the HMAC-SHA256 signature and the headers a receiver checks;
//! - [`body`]: the JSON a delivery carries;
//! - [`Webhooks`]: the sender. [`Webhooks::tick`] is one step (claim what is due at `now`,
//!   try each, settle each); [`Webhooks::run`] calls it every [`POLL_EVERY`] on real time,
//!   and keeps the log to [`KEPT_FOR`].
//!
//! Invariants:
//! - an event is delivered at least once while the server runs now and then: its row is
//!   stored with the call record it reports, a try claims it for [`LEASE`] (longer than a
//!   try can take), and a server killed mid-try leaves it due again once the lease ends —
//!   receivers tell repeats apart by the `X-Dialer-Delivery` id;
//! - a delivery only ever connects where a lead file may be fetched from (`lead::fetch`'s
//!   rules: http(s), no credentials, no private, loopback or link-local address unless the
//!   admin's `import_allow_networks` allows it, checked after DNS resolution), follows no
//!   redirect, and gives up on a receiver after [`TIMEOUT`];
//! - it goes to the campaign's webhook address and is signed with its secret as they are
//!   when it is tried (an admin who fixes an address has the waiting deliveries follow); a
//!   campaign whose webhook was removed has them given up, unsent.

pub mod body;
pub mod schedule;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use app::model::CampaignId;
use app::model::crm::WebhookEvent;

use crate::db::crm::Claimed;
use crate::db::{self, Db, DbError};
use crate::lead::fetch::{AllowedNetworks, FetchError, GuardedResolver, check_url, classify};
use crate::runtime::clock::Clock;
use schedule::TryResult;

/// The longest a receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long a claimed delivery is held by the try under way: longer than any try takes, so a
/// delivery is tried by one sender at a time, and again soon after a sender died mid-try.
pub const LEASE: Duration = Duration::from_secs(30);

/// How often the sender looks for due deliveries.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// The most deliveries tried at once.
const BATCH: i64 = 32;

/// How long the log keeps a finished delivery (delivered or given up).
pub const KEPT_FOR: Duration = Duration::from_secs(30 * 86_400);

/// How often finished deliveries past [`KEPT_FOR`] are deleted.
const FORGET_EVERY: Duration = Duration::from_secs(3600);

/// Why the sender could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot build the webhooks' HTTP client: {0}")]
    Client(String),
}

/// The webhook sender (cheap to clone).
#[derive(Clone)]
pub struct Webhooks {
    db: Db,
    client: reqwest::Client,
    allow: AllowedNetworks,
}

impl Webhooks {
    /// A sender on `db`, connecting only where `allow` (the lead-URL rule) lets it.
    pub fn new(db: Db, allow: AllowedNetworks) -> Result<Webhooks, WebhookError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver::new(allow.clone())))
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .no_proxy()
            .user_agent("dialer-webhook")
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Webhooks { db, client, allow })
    }

    /// One step: claims the deliveries due at `now` (Unix ms), tries them all at once, and
    /// settles each (delivered, retried later, or given up). Returns how many were tried.
    pub async fn tick(&self, now: i64) -> Result<usize, DbError> {
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let claimed = db::crm::claim_due(&self.db, now, now.saturating_add(lease), BATCH).await?;
        let n = claimed.len();
        let mut tries = tokio::task::JoinSet::new();
        for delivery in claimed {
            let sender = self.clone();
            tries.spawn(async move { sender.deliver(delivery, now).await });
        }
        while let Some(done) = tries.join_next().await {
            match done {
                Ok(Ok(())) => {}
                // The row stays claimed: it is tried again when its lease ends.
                Ok(Err(e)) => tracing::warn!(error = %e, "a webhook delivery could not be settled"),
                Err(e) => tracing::error!(error = %e, "a webhook delivery task failed"),
            }
        }
        Ok(n)
    }

    /// Runs [`Webhooks::tick`] on `clock`'s time, every [`POLL_EVERY`] (at once again after
    /// a full batch), and deletes finished deliveries older than [`KEPT_FOR`] hourly, until
    /// the task is aborted.
    pub async fn run(self, clock: Arc<dyn Clock>) {
        let mut forget_at = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= forget_at {
                forget_at += FORGET_EVERY;
                let kept = i64::try_from(KEPT_FOR.as_millis()).unwrap_or(i64::MAX);
                match db::crm::forget_finished(&self.db, clock.now().wall - kept).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "old webhook deliveries forgotten"),
                    Err(e) => tracing::warn!(error = %e, "cannot delete old webhook deliveries"),
                }
            }
            match self.tick(clock.now().wall).await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the webhook outbox"),
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Tries one claimed delivery and stores how it went.
    async fn deliver(&self, delivery: Claimed, now: i64) -> Result<(), DbError> {
        let tries = u32::try_from(delivery.tries).unwrap_or(u32::MAX);
        let started = tokio::time::Instant::now();
        let (url, result) = self.try_once(&delivery, now).await?;
        // The wait before the next try counts from this one's end: a receiver that made it
        // wait for the timeout is not asked again at once. (Whole seconds, so a quick try in
        // virtual time ends when it began.)
        let took = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
        let now = now.saturating_add(took.saturating_mul(1000));
        let settled = schedule::settle(tries, result, now);
        match &settled {
            db::crm::Settle::Delivered { status } => {
                tracing::info!(delivery = delivery.id, event = %delivery.event, status = *status, "webhook delivered");
            }
            db::crm::Settle::Retry { error, .. } => {
                tracing::info!(delivery = delivery.id, tries = tries + 1, error = %error, "webhook delivery failed; will retry");
            }
            db::crm::Settle::GiveUp { error, .. } => {
                tracing::warn!(delivery = delivery.id, tries = tries + 1, error = %error, "webhook delivery given up");
            }
        }
        db::crm::settle(&self.db, delivery.id, url.as_deref(), &settled, now).await
    }

    /// One try: the address and secret as the campaign has them now, the body as frozen at
    /// the first try, the signed POST. Returns the address tried (None when none could be).
    async fn try_once(
        &self,
        delivery: &Claimed,
        now: i64,
    ) -> Result<(Option<String>, TryResult), DbError> {
        let Some(event) = WebhookEvent::parse(&delivery.event) else {
            return Ok((None, TryResult::Impossible("An event this server does not know.".into())));
        };
        let crm = db::crm::settings(&self.db, CampaignId(delivery.campaign_id)).await?;
        if crm.webhook_url.is_empty() || crm.webhook_secret.is_empty() {
            let why = "The campaign's webhook was removed before this delivery; nothing was sent.";
            return Ok((None, TryResult::Impossible(why.into())));
        }
        let url = match check_url(&crm.webhook_url, &self.allow) {
            Ok(url) => url,
            Err(e) => return Ok((Some(crm.webhook_url), TryResult::Impossible(e.to_string()))),
        };
        let body = match &delivery.body {
            Some(body) => body.clone(),
            None => match db::crm::call_facts(&self.db, &delivery.call_ref).await? {
                Some((facts, lead)) => {
                    let composed = body::compose(
                        delivery.id,
                        event,
                        delivery.occurred_at,
                        &facts,
                        lead.as_ref(),
                    );
                    db::crm::freeze_body(&self.db, delivery.id, &composed).await?
                }
                None => {
                    let why = "The call this event is about is no longer stored; nothing was sent.";
                    return Ok((Some(crm.webhook_url), TryResult::Impossible(why.into())));
                }
            },
        };
        let timestamp = now.div_euclid(1000);
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signature::EVENT, event.as_str())
            .header(signature::DELIVERY, delivery.id.to_string())
            .header(signature::TIMESTAMP, timestamp.to_string())
            .header(
                signature::SIGNATURE,
                signature::sign(&crm.webhook_secret, timestamp, body.as_bytes()),
            )
            .body(body);
        let result = match request.send().await {
            Ok(response) => TryResult::Answered(response.status().as_u16()),
            Err(e) => TryResult::Unreachable(match classify(e) {
                FetchError::Network(m) => format!("No answer: {m}"),
                other => other.to_string(),
            }),
        };
        Ok((Some(crm.webhook_url), result))
    }
}
