//! Agents' SIP phones: the accounts (one per agent, the user name unique), and what the
//! gateway last said of each (registered where and until when, or its last refusal), written
//! by the gateway link's reporting task.
//!
//! Invariants: only agents have a phone, and a disabled agent's phone is never handed to the
//! gateway ([`accounts`]); a changed account forgets its registration (the gateway drops the
//! binding too, and the phone must prove the new settings).

use std::collections::HashMap;

use app::model::UserId;
use app::model::sip_phone::{
    PhoneRegistration, SipPhoneAccount, SipPhoneForm, SipPhoneSummary, SipRegistration, SipSecret,
    SipUser,
};
use app::model::trunk::{Codec, Transport};

use super::{Db, DbError, with_pool};

#[derive(sqlx::FromRow)]
struct Row {
    user_id: i64,
    sip_user: String,
    secret: String,
    transport: String,
    codecs: String,
    contact: Option<String>,
    source: Option<String>,
    user_agent: Option<String>,
    registered_until: Option<i64>,
    failure: Option<String>,
    failure_at: Option<i64>,
}

const COLUMNS: &str = "p.user_id, p.sip_user, p.secret, p.transport, p.codecs, p.contact, \
     p.source, p.user_agent, p.registered_until, p.failure, p.failure_at";

impl Row {
    fn settings(&self) -> Result<(SipUser, Transport, Vec<Codec>), DbError> {
        let bad = |e: String| DbError::Corrupt(format!("SIP phone of user {}: {e}", self.user_id));
        Ok((
            SipUser::parse(&self.sip_user).map_err(|e| bad(e.into()))?,
            Transport::parse(&self.transport).map_err(|e| bad(e.into()))?,
            Codec::parse_list(&self.codecs).map_err(|e| bad(e.into()))?,
        ))
    }

    fn account(&self) -> Result<SipPhoneAccount, DbError> {
        let bad = |e: String| DbError::Corrupt(format!("SIP phone of user {}: {e}", self.user_id));
        let (user, transport, codecs) = self.settings()?;
        let secret = SipSecret::parse(&self.secret).map_err(|e| bad(e.into()))?;
        SipPhoneAccount::new(user, secret, transport, codecs).map_err(|e| bad(e.into()))
    }

    /// The phone as shown at `now` (epoch ms): a registration run out is none.
    fn summary(self, now: i64) -> Result<SipPhoneSummary, DbError> {
        let (user, transport, codecs) = self.settings()?;
        let registration = match (self.contact, self.source, self.registered_until) {
            (Some(contact), Some(source), Some(until)) if until > now => {
                Some(PhoneRegistration { contact, source, user_agent: self.user_agent, until })
            }
            _ => None,
        };
        let failure = self.failure.zip(self.failure_at);
        Ok(SipPhoneSummary { user, transport, codecs, registration, failure, quality: None })
    }
}

/// Every agent's phone, by agent, as at `now` (epoch ms).
pub async fn summaries(db: &Db, now: i64) -> Result<HashMap<UserId, SipPhoneSummary>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM agent_sip_phones p");
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.clone()))
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(|r| Ok((UserId(r.user_id), r.summary(now)?))).collect()
}

/// The accounts the gateway accepts registrations for: enabled agents' phones, by user name.
pub async fn accounts(db: &Db) -> Result<Vec<SipPhoneAccount>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM agent_sip_phones p JOIN users u ON u.id = p.user_id \
         WHERE u.role = 'agent' AND NOT u.disabled ORDER BY p.sip_user"
    );
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.clone()))
        .fetch_all(pool)
        .await)?;
    rows.iter().map(Row::account).collect()
}

/// The SIP phone of `agent`, if the agent has one and is enabled.
pub async fn user_of(db: &Db, agent: UserId) -> Result<Option<SipUser>, DbError> {
    let user: Option<String> = with_pool!(db, pool => sqlx::query_scalar(
        "SELECT p.sip_user FROM agent_sip_phones p JOIN users u ON u.id = p.user_id \
         WHERE p.user_id = $1 AND NOT u.disabled")
        .bind(agent.0)
        .fetch_optional(pool)
        .await)?;
    user.map(|u| SipUser::parse(&u).map_err(|e| DbError::Corrupt(format!("SIP user {u:?}: {e}"))))
        .transpose()
}

/// Which of these SIP user names a phone has already.
pub async fn existing(db: &Db, users: &[SipUser]) -> Result<Vec<String>, DbError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    // One placeholder per name (as `users::existing` does): only these rows are read.
    let placeholders: Vec<String> = (1..=users.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT sip_user FROM agent_sip_phones WHERE sip_user IN ({}) ORDER BY sip_user",
        placeholders.join(", ")
    );
    let taken: Vec<String> = with_pool!(db, pool => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
        for u in users {
            q = q.bind(u.as_str());
        }
        q.fetch_all(pool).await
    })?;
    Ok(taken)
}

/// What [`set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Saved,
    /// The user is not an agent (or does not exist).
    NotAnAgent,
    /// A new phone needs a password.
    NeedsSecret,
}

/// Gives `agent` a phone or changes it (a form without a password keeps the current one).
/// A user name another agent's phone has is a unique violation.
pub async fn set(db: &Db, agent: UserId, form: &SipPhoneForm) -> Result<Saved, DbError> {
    let codecs = Codec::list_text(&form.codecs);
    let (user, transport) = (form.user.as_str(), form.transport.as_str());
    let outcome = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
            .bind(agent.0)
            .fetch_optional(&mut *tx)
            .await?;
        if role.as_deref() != Some("agent") {
            return Ok(Saved::NotAnAgent);
        }
        let changed = match &form.secret {
            Some(secret) => sqlx::query(
                "INSERT INTO agent_sip_phones (user_id, sip_user, secret, transport, codecs) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET \
                 sip_user = excluded.sip_user, secret = excluded.secret, \
                 transport = excluded.transport, codecs = excluded.codecs, contact = NULL, \
                 source = NULL, user_agent = NULL, registered_until = NULL")
                .bind(agent.0).bind(user).bind(secret.expose()).bind(transport).bind(&codecs)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            None => sqlx::query(
                "UPDATE agent_sip_phones SET sip_user = $2, transport = $3, codecs = $4, \
                 contact = NULL, source = NULL, user_agent = NULL, registered_until = NULL \
                 WHERE user_id = $1")
                .bind(agent.0).bind(user).bind(transport).bind(&codecs)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
        };
        if changed == 0 {
            return Ok(Saved::NeedsSecret);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(Saved::Saved)
    })?;
    Ok(outcome)
}

/// Takes `agent`'s phone away; whether there was one.
pub async fn remove(db: &Db, agent: UserId) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query("DELETE FROM agent_sip_phones WHERE user_id = $1")
        .bind(agent.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The gateway accepted `registration` at `now` (epoch ms).
pub async fn record_registered(
    db: &Db,
    registration: &SipRegistration,
    now: i64,
) -> Result<(), DbError> {
    let until = now + i64::from(registration.expires_secs) * 1000;
    with_pool!(db, pool => sqlx::query(
        "UPDATE agent_sip_phones SET contact = $2, source = $3, user_agent = $4, \
         registered_until = $5, failure = NULL, failure_at = NULL WHERE sip_user = $1")
        .bind(registration.user.as_str())
        .bind(&registration.contact)
        .bind(&registration.source)
        .bind(registration.user_agent.as_deref())
        .bind(until)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// The phone of `user` is no longer registered.
pub async fn record_unregistered(db: &Db, user: &SipUser) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
        "UPDATE agent_sip_phones SET contact = NULL, source = NULL, user_agent = NULL, \
         registered_until = NULL WHERE sip_user = $1")
        .bind(user.as_str())
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// A registration claiming `user` was refused at `now` for `reason` (nothing is written for
/// a user name no phone has).
pub async fn record_failure(db: &Db, user: &str, reason: &str, now: i64) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
        "UPDATE agent_sip_phones SET failure = $2, failure_at = $3 WHERE sip_user = $1")
        .bind(user)
        .bind(reason)
        .bind(now)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}
