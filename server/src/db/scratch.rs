//! A PostgreSQL database of a run's own, for the benchmark programs: created under a fresh
//! name on the server an admin URL points at, dropped when the run is done.
//!
//! Dropping asks for no more than the database's owner may do: the run closes its own
//! connections first, and a database is dropped only once the server has let them go (a
//! closed pool's connections end a moment after `close` returns, and a killed server's
//! sessions once PostgreSQL notices). Only when some stay past [`DROP_PATIENCE`] is the drop
//! forced, which needs the right to end other sessions (`pg_signal_backend`).

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

use super::DbError;

/// How long a drop waits for the database's last sessions to end before forcing it.
pub const DROP_PATIENCE: Duration = Duration::from_secs(10);

/// PostgreSQL's "object in use": the database still has sessions.
const IN_USE: &str = "55006";

/// A database created for a run.
#[derive(Debug)]
pub struct Scratch {
    admin_url: String,
    /// Its name: the prefix given, then random hexadecimal digits.
    pub name: String,
    /// Its URL (the admin URL with the database part replaced).
    pub url: String,
}

impl Scratch {
    /// Creates a database named `prefix` and random digits on the server of `admin_url` (a
    /// URL whose user may create databases).
    pub async fn create(admin_url: &str, prefix: &str) -> Result<Scratch, DbError> {
        let Some(slash) = admin_url.rfind('/').filter(|i| admin_url[..*i].contains("//")) else {
            return Err(DbError::UnsupportedUrl(admin_url.to_string()));
        };
        let name = format!("{prefix}_{:08x}", rand::random::<u32>());
        let mut conn = connect(admin_url).await?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await?;
        let url = format!("{}/{name}", &admin_url[..slash]);
        Ok(Scratch { admin_url: admin_url.to_string(), name, url })
    }

    /// Drops the database once its sessions have ended (see the module's docs).
    pub async fn drop(self) -> Result<(), DbError> {
        let mut conn = connect(&self.admin_url).await?;
        let deadline = tokio::time::Instant::now() + DROP_PATIENCE;
        let drop = format!("DROP DATABASE IF EXISTS {}", self.name);
        loop {
            let e = match conn.execute(sqlx::AssertSqlSafe(drop.as_str())).await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let in_use =
                matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some(IN_USE));
            if !in_use {
                return Err(e.into());
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let force = format!("{drop} WITH (FORCE)");
        conn.execute(sqlx::AssertSqlSafe(force)).await?;
        Ok(())
    }
}

/// A connection to the server of `url`.
async fn connect(url: &str) -> Result<PgConnection, DbError> {
    PgConnection::connect(url)
        .await
        .map_err(|source| DbError::Connect { url: super::redact(url), source })
}

/// A leadset of `campaign` holding `leads` new leads in time zone `timezone`, for the
/// benchmark programs: distinct US numbers (+1 202 and seven digits), inserted 50,000 at a
/// time.
pub async fn leadset_of(
    db: &super::Db,
    campaign: app::model::CampaignId,
    leads: u32,
    timezone: &str,
) -> Result<app::model::LeadsetId, DbError> {
    use app::model::{Contact, LeadStatus, LeadsetSettings, Name, PhoneNumber};
    let leadset = super::leadsets::insert(
        db,
        &LeadsetSettings {
            // (One per campaign: a benchmark may fill several.)
            name: Name::parse(&format!("Bench {}", campaign.0)).expect("a valid name"),
            campaign_id: Some(campaign),
            active: true,
            description: String::new(),
            default_country: "US".into(),
        },
        0,
    )
    .await?;
    const CHUNK: u32 = 50_000;
    for start in (0..leads).step_by(CHUNK as usize) {
        let batch: Vec<super::leads::NewLead> = (start..(start + CHUNK).min(leads))
            .map(|i| super::leads::NewLead {
                phone: PhoneNumber::parse(&format!("+1202{i:07}")).expect("a valid number"),
                status: LeadStatus::system("NEW"),
                timezone: timezone.into(),
                contact: Contact { first_name: format!("Lead {i}"), ..Contact::default() },
                custom: Default::default(),
            })
            .collect();
        super::leads::insert_many(db, leadset, &batch, 0).await?;
    }
    Ok(leadset)
}
