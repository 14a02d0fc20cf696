//! Campaigns with their source statuses, retry rules and agents.

use app::model::{
    AbandonWindow, CallOutcome, CallerId, CallingWindow, Campaign, CampaignId, CampaignKind,
    CampaignSettings, LeadStatus, MachineAction, Name, RetryRule, ScriptId, TrunkId, UserId,
};

use super::{Db, DbError, with_pool};

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: i64,
    name: String,
    kind: String,
    active: bool,
    script_id: Option<i64>,
    trunk_id: Option<i64>,
    notes: String,
    caller_id: String,
    outbound_multiplier: f64,
    max_channels: i64,
    max_cps: f64,
    max_attempts: i64,
    window_start: i64,
    window_end: i64,
    wrapup_seconds: i64,
    ring_seconds: i64,
    broadcast_file: Option<String>,
    pacing: String,
    abandon_cap: f64,
    abandon_window: String,
    max_dial_level: f64,
    safe_harbor_file: Option<String>,
    amd: bool,
    machine_action: String,
    machine_file: Option<String>,
    departments: String,
    recording: String,
    recording_retention_days: i64,
    keypad: String,
    linked_campaign_id: Option<i64>,
    hold_file: Option<String>,
    no_agent_file: Option<String>,
    dnc_file: Option<String>,
    lines_per_agent: i64,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    campaign_id: i64,
    outcome: String,
    retry_minutes: i64,
    max_attempts: i64,
}

macro_rules! campaign_columns {
    () => {
        "id, name, kind, active, script_id, trunk_id, notes, caller_id, outbound_multiplier, \
         max_channels, max_cps, max_attempts, window_start, window_end, wrapup_seconds, \
         ring_seconds, broadcast_file, pacing, abandon_cap, abandon_window, max_dial_level, \
         safe_harbor_file, amd, machine_action, machine_file, departments, recording, \
         recording_retention_days, keypad, linked_campaign_id, hold_file, no_agent_file, dnc_file, \
         lines_per_agent"
    };
}

/// A kind as stored: a predictive campaign is kind `auto` with pacing `predictive` (see
/// migration 0024).
fn stored_kind(kind: CampaignKind) -> (&'static str, &'static str) {
    match kind {
        CampaignKind::Predictive => (CampaignKind::Auto.as_str(), "predictive"),
        k => (k.as_str(), "progressive"),
    }
}

fn kind_of(kind: &str, pacing: &str) -> Result<CampaignKind, DbError> {
    match (CampaignKind::parse(kind).map_err(|e| corrupt("kind", e))?, pacing) {
        (CampaignKind::Auto, "predictive") => Ok(CampaignKind::Predictive),
        (k, "progressive") => Ok(k),
        (_, other) => Err(corrupt("pacing", other)),
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what}: {e}"))
}

fn u32_of(what: &str, v: i64) -> Result<u32, DbError> {
    u32::try_from(v).map_err(|e| corrupt(what, e))
}

impl CampaignRow {
    fn into_campaign(
        self,
        statuses: Vec<LeadStatus>,
        rules: Vec<RetryRule>,
        agents: Vec<UserId>,
    ) -> Result<Campaign, DbError> {
        let window = CallingWindow::new(
            u16::try_from(self.window_start).map_err(|e| corrupt("window", e))?,
            u16::try_from(self.window_end).map_err(|e| corrupt("window", e))?,
        )
        .map_err(|e| corrupt("window", e))?;
        let caller_id = match self.caller_id.as_str() {
            "" => None,
            s => Some(CallerId::parse(s).map_err(|e| corrupt("caller id", e))?),
        };
        Ok(Campaign {
            id: CampaignId(self.id),
            settings: CampaignSettings {
                name: Name::parse(&self.name).map_err(|e| corrupt("name", e))?,
                kind: kind_of(&self.kind, &self.pacing)?,
                active: self.active,
                script_id: self.script_id.map(ScriptId),
                trunk_id: self.trunk_id.map(TrunkId),
                notes: self.notes,
                caller_id,
                source_statuses: statuses,
                outbound_multiplier: self.outbound_multiplier,
                max_channels: u32_of("max_channels", self.max_channels)?,
                max_cps: self.max_cps,
                max_attempts: u32_of("max_attempts", self.max_attempts)?,
                window,
                wrapup_seconds: u32_of("wrapup_seconds", self.wrapup_seconds)?,
                ring_seconds: u32_of("ring_seconds", self.ring_seconds)?,
                retry_rules: rules,
                broadcast_file: self.broadcast_file,
                abandon_cap: self.abandon_cap,
                abandon_window: AbandonWindow::parse(&self.abandon_window)
                    .map_err(|e| corrupt("abandon_window", e))?,
                max_dial_level: self.max_dial_level,
                safe_harbor_file: self.safe_harbor_file,
                amd: self.amd,
                machine_action: MachineAction::parse(&self.machine_action)
                    .map_err(|e| corrupt("machine_action", e))?,
                machine_file: self.machine_file,
                departments: app::model::transfer::Departments::parse(&self.departments)
                    .map_err(|e| corrupt("departments", e))?,
                recording: app::model::recording::RecordingMode::parse(&self.recording)
                    .map_err(|e| corrupt("recording", e))?,
                recording_retention: app::model::recording::Retention::days(u32_of(
                    "recording_retention_days",
                    self.recording_retention_days,
                )?)
                .map_err(|e| corrupt("recording_retention_days", e))?,
                keypad: app::model::keypad::KeyMap::parse(&self.keypad)
                    .map_err(|e| corrupt("keypad", e))?,
                linked_campaign: self.linked_campaign_id.map(CampaignId),
                hold_file: self.hold_file,
                no_agent_file: self.no_agent_file,
                dnc_file: self.dnc_file,
                lines_per_agent: u8::try_from(self.lines_per_agent)
                    .map_err(|e| corrupt("lines_per_agent", e))?,
                agents,
            },
        })
    }
}

/// Binds a campaign's settings as `$1`–`$21`, in the column order both `insert` and `update`
/// use.
macro_rules! bind_settings {
    ($q:expr, $s:expr) => {
        $q.bind($s.name.as_str())
            .bind(stored_kind($s.kind).0)
            .bind($s.active)
            .bind($s.script_id.map(|x| x.0))
            .bind($s.trunk_id.map(|x| x.0))
            .bind(&$s.notes)
            .bind($s.caller_id.as_ref().map(|c| c.as_str()).unwrap_or(""))
            .bind($s.outbound_multiplier)
            .bind(i64::from($s.max_channels))
            .bind($s.max_cps)
            .bind(i64::from($s.max_attempts))
            .bind(i64::from($s.window.start))
            .bind(i64::from($s.window.end))
            .bind(i64::from($s.wrapup_seconds))
            .bind(i64::from($s.ring_seconds))
            .bind($s.broadcast_file.as_deref())
            .bind(stored_kind($s.kind).1)
            .bind($s.abandon_cap)
            .bind($s.abandon_window.as_str())
            .bind($s.max_dial_level)
            .bind($s.safe_harbor_file.as_deref())
    };
}

/// Binds the settings added since (detection, the machine action and its file, the
/// departments, recording and its retention, the broadcast keypad and what goes with it,
/// lines per agent) as the next twelve parameters, after the time (and, in `update`, the id).
macro_rules! bind_later_settings {
    ($q:expr, $s:expr) => {
        $q.bind($s.amd)
            .bind($s.machine_action.as_str())
            .bind($s.machine_file.as_deref())
            .bind($s.departments.to_text())
            .bind($s.recording.as_str())
            .bind(i64::from($s.recording_retention.as_days()))
            .bind($s.keypad.to_text())
            .bind($s.linked_campaign.map(|c| c.0))
            .bind($s.hold_file.as_deref())
            .bind($s.no_agent_file.as_deref())
            .bind($s.dnc_file.as_deref())
            .bind(i64::from($s.lines_per_agent))
    };
}

/// Rewrites a campaign's statuses, rules and agents inside the caller's transaction.
macro_rules! replace_children {
    ($tx:ident, $id:ident, $s:ident) => {
        for sql in [
            "DELETE FROM campaign_statuses WHERE campaign_id = $1",
            "DELETE FROM retry_rules WHERE campaign_id = $1",
            "DELETE FROM campaign_agents WHERE campaign_id = $1",
        ] {
            sqlx::query(sql).bind($id).execute(&mut *$tx).await?;
        }
        for st in &$s.source_statuses {
            sqlx::query("INSERT INTO campaign_statuses (campaign_id, status) VALUES ($1, $2)")
                .bind($id)
                .bind(st.as_str())
                .execute(&mut *$tx)
                .await?;
        }
        for r in &$s.retry_rules {
            sqlx::query(
                "INSERT INTO retry_rules (campaign_id, outcome, retry_minutes, max_attempts) VALUES ($1, $2, $3, $4)",
            )
            .bind($id)
            .bind(r.outcome.as_str())
            .bind(i64::from(r.retry_minutes))
            .bind(i64::from(r.max_attempts))
            .execute(&mut *$tx)
            .await?;
        }
        for a in &$s.agents {
            sqlx::query("INSERT INTO campaign_agents (campaign_id, user_id) VALUES ($1, $2)")
                .bind($id)
                .bind(a.0)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

/// Every campaign, by name, with its statuses, rules and agents.
pub async fn list(db: &Db) -> Result<Vec<Campaign>, DbError> {
    load(db, None).await
}

/// One campaign.
pub async fn get(db: &Db, id: CampaignId) -> Result<Option<Campaign>, DbError> {
    Ok(load(db, Some(id)).await?.pop())
}

async fn load(db: &Db, only: Option<CampaignId>) -> Result<Vec<Campaign>, DbError> {
    // NULL for every row: no id value, negative or not, stands for "all".
    let filter: Option<i64> = only.map(|c| c.0);
    let (rows, statuses, rules, agents) = with_pool!(db, pool => {
        let rows = sqlx::query_as::<_, CampaignRow>(concat!(
            "SELECT ", campaign_columns!(), " FROM campaigns WHERE $1 IS NULL OR id = $1 ORDER BY name"
        ))
        .bind(filter)
        .fetch_all(pool)
        .await?;
        let statuses = sqlx::query_as::<_, (i64, String)>(
            "SELECT campaign_id, status FROM campaign_statuses WHERE $1 IS NULL OR campaign_id = $1 ORDER BY status",
        )
        .bind(filter)
        .fetch_all(pool)
        .await?;
        let rules = sqlx::query_as::<_, RuleRow>(
            "SELECT campaign_id, outcome, retry_minutes, max_attempts FROM retry_rules \
             WHERE $1 IS NULL OR campaign_id = $1 ORDER BY outcome",
        )
        .bind(filter)
        .fetch_all(pool)
        .await?;
        let agents = sqlx::query_as::<_, (i64, i64)>(
            "SELECT campaign_id, user_id FROM campaign_agents WHERE $1 IS NULL OR campaign_id = $1 ORDER BY user_id",
        )
        .bind(filter)
        .fetch_all(pool)
        .await?;
        Ok::<_, sqlx::Error>((rows, statuses, rules, agents))
    })?;
    rows.into_iter()
        .map(|row| {
            let id = row.id;
            let st = statuses
                .iter()
                .filter(|(c, _)| *c == id)
                .map(|(_, s)| LeadStatus::parse(s).map_err(|e| corrupt("status", e)))
                .collect::<Result<_, _>>()?;
            let rl = rules
                .iter()
                .filter(|r| r.campaign_id == id)
                .map(|r| {
                    Ok(RetryRule {
                        outcome: CallOutcome::parse(&r.outcome).map_err(|e| corrupt("rule", e))?,
                        retry_minutes: u32_of("retry_minutes", r.retry_minutes)?,
                        max_attempts: u32_of("max_attempts", r.max_attempts)?,
                    })
                })
                .collect::<Result<_, DbError>>()?;
            let ag = agents.iter().filter(|(c, _)| *c == id).map(|(_, u)| UserId(*u)).collect();
            row.into_campaign(st, rl, ag)
        })
        .collect()
}

/// Stores a new campaign; a taken name is a unique violation.
pub async fn insert(db: &Db, s: &CampaignSettings, now: i64) -> Result<CampaignId, DbError> {
    let id = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let id: i64 = bind_later_settings!(bind_settings!(sqlx::query_scalar(
            "INSERT INTO campaigns (name, kind, active, script_id, trunk_id, notes, caller_id, \
             outbound_multiplier, max_channels, max_cps, max_attempts, window_start, window_end, \
             wrapup_seconds, ring_seconds, broadcast_file, pacing, abandon_cap, abandon_window, \
             max_dial_level, safe_harbor_file, created_at, updated_at, amd, machine_action, \
             machine_file, departments, recording, recording_retention_days, keypad, \
             linked_campaign_id, hold_file, no_agent_file, dnc_file, lines_per_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, \
             $34) \
             RETURNING id",
        ), s)
        .bind(now), s)
        .fetch_one(&mut *tx)
        .await?;
        replace_children!(tx, id, s);
        tx.commit().await?;
        Ok::<_, sqlx::Error>(id)
    })?;
    Ok(CampaignId(id))
}

/// Replaces a campaign's settings. Returns whether it exists.
pub async fn update(
    db: &Db,
    id: CampaignId,
    s: &CampaignSettings,
    now: i64,
) -> Result<bool, DbError> {
    let found = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let n = bind_later_settings!(bind_settings!(sqlx::query(
            "UPDATE campaigns SET name = $1, kind = $2, active = $3, script_id = $4, trunk_id = $5, \
             notes = $6, caller_id = $7, outbound_multiplier = $8, max_channels = $9, max_cps = $10, \
             max_attempts = $11, window_start = $12, window_end = $13, wrapup_seconds = $14, \
             ring_seconds = $15, broadcast_file = $16, pacing = $17, abandon_cap = $18, \
             abandon_window = $19, max_dial_level = $20, safe_harbor_file = $21, updated_at = $22, \
             amd = $24, machine_action = $25, machine_file = $26, departments = $27, \
             recording = $28, recording_retention_days = $29, keypad = $30, \
             linked_campaign_id = $31, hold_file = $32, no_agent_file = $33, dnc_file = $34, \
             lines_per_agent = $35 \
             WHERE id = $23",
        ), s)
        .bind(now)
        .bind(id.0), s)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            let id = id.0;
            replace_children!(tx, id, s);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(n == 1)
    })?;
    Ok(found)
}

/// Turns a campaign on or off. Returns whether it exists.
pub async fn set_active(db: &Db, id: CampaignId, active: bool, now: i64) -> Result<bool, DbError> {
    let n = with_pool!(db, pool => sqlx::query("UPDATE campaigns SET active = $1, updated_at = $2 WHERE id = $3")
        .bind(active)
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The campaigns an agent is assigned to: (id, name, kind, active).
pub async fn for_agent(
    db: &Db,
    agent: UserId,
) -> Result<Vec<(CampaignId, Name, CampaignKind, bool)>, DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, (i64, String, String, String, bool)>(
            "SELECT c.id, c.name, c.kind, c.pacing, c.active FROM campaigns c \
             JOIN campaign_agents a ON a.campaign_id = c.id WHERE a.user_id = $1 ORDER BY c.name")
        .bind(agent.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter()
        .map(|(id, name, kind, pacing, active)| {
            Ok((
                CampaignId(id),
                Name::parse(&name).map_err(|e| corrupt("name", e))?,
                kind_of(&kind, &pacing)?,
                active,
            ))
        })
        .collect()
}

/// A campaign's stored answered and abandoned calls per UTC day (see [`abandons`]): a dialer
/// run's own — their references begin with its prefix (`Engine::call_ref_prefix`), matched
/// as written (no pattern) — and everyone else's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredAbandons {
    pub others: crate::engine::abandon::AbandonHistory,
    pub own: crate::engine::abandon::AbandonHistory,
}

/// A campaign's answered and abandoned calls per UTC day over the last `days` days before
/// `now` (Unix ms), for its abandon cap: answered is every call a person answered, abandoned
/// those of them that ended dropped (no agent in time, or cut off by a crash). Calls a
/// machine answered are not live answers and are left out — those ended as machines, and
/// those still up that detection called a machine (a machine passed to an agent counts once
/// it ends, as answered or dropped). With `run`, a dialer run's prefix, its own calls are
/// counted apart; without, every call is among the others.
pub async fn abandons(
    db: &Db,
    id: CampaignId,
    now: i64,
    days: i64,
    run: Option<&str>,
) -> Result<StoredAbandons, DbError> {
    const DAY_MS: i64 = 86_400_000;
    let from = (now.div_euclid(DAY_MS) - days + 1) * DAY_MS;
    let rows = with_pool!(db, pool => sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT answered_at / 86400000, \
             CAST(CASE WHEN $3 <> '' AND substr(call_ref, 1, length($3)) = $3 THEN 1 ELSE 0 END \
                  AS BIGINT), \
             COUNT(*), CAST(SUM(CASE WHEN outcome = 'dropped' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM call_attempts WHERE campaign_id = $1 AND answered_at >= $2 AND NOT inbound \
             AND (outcome IS NULL OR outcome <> 'machine') \
             AND NOT (outcome IS NULL AND amd_verdict IS NOT NULL AND amd_verdict = 'machine') \
             GROUP BY 1, 2 ORDER BY 1")
        .bind(id.0)
        .bind(from)
        .bind(run.unwrap_or_default())
        .fetch_all(pool)
        .await)?;
    let mut stored = StoredAbandons::default();
    for (day, own, answered, abandoned) in rows {
        let t = crate::engine::abandon::DayTally {
            answered: answered.max(0) as u64,
            abandoned: abandoned.max(0) as u64,
        };
        if own == 1 { &mut stored.own } else { &mut stored.others }.push((day, t));
    }
    Ok(stored)
}

/// How a campaign's calls went since `from` (Unix ms), for the pacing simulator: calls
/// finished, those a person answered, those talked with an agent, and their talk time in
/// all (ms, from the bridge to the end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallHistory {
    pub finished: u64,
    pub answered: u64,
    pub talked: u64,
    pub talk_ms: u64,
}

/// See [`CallHistory`].
pub async fn call_history(db: &Db, id: CampaignId, from: i64) -> Result<CallHistory, DbError> {
    let (finished, answered, talked, talk_ms) = with_pool!(db, pool => sqlx::query_as::<_, (i64, Option<i64>, Option<i64>, Option<i64>)>(
            "SELECT COUNT(*), \
             CAST(SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN outcome = $3 AND bridged_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN outcome = $3 AND bridged_at IS NOT NULL AND ended_at > bridged_at \
             THEN ended_at - bridged_at ELSE 0 END) AS BIGINT) \
             FROM call_attempts WHERE campaign_id = $1 AND dialed_at >= $2 AND ended_at IS NOT NULL \
             AND NOT inbound")
        .bind(id.0)
        .bind(from)
        .bind(app::model::CallOutcome::Answered.as_str())
        .fetch_one(pool)
        .await)?;
    let count = |n: Option<i64>| u64::try_from(n.unwrap_or(0)).unwrap_or(0);
    Ok(CallHistory {
        finished: count(Some(finished)),
        answered: count(answered),
        talked: count(talked),
        talk_ms: count(talk_ms),
    })
}

/// The body of a campaign's script, if it has one.
pub async fn script_body(db: &Db, id: CampaignId) -> Result<Option<String>, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar::<_, String>(
            "SELECT s.body FROM scripts s JOIN campaigns c ON c.script_id = s.id WHERE c.id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await)?)
}

/// A campaign's script and its form, if it has a script.
pub async fn script(
    db: &Db,
    id: CampaignId,
) -> Result<Option<(app::model::ScriptBody, app::model::script::ScriptForm)>, DbError> {
    let row = with_pool!(db, pool => sqlx::query_as::<_, (String, String)>(
            "SELECT s.body, s.form FROM scripts s JOIN campaigns c ON c.script_id = s.id WHERE c.id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await)?;
    let Some((body, form)) = row else { return Ok(None) };
    let corrupt = |what: &str, e: app::model::script::ScriptError| {
        DbError::Corrupt(format!("script {what}: {e}"))
    };
    Ok(Some((
        app::model::ScriptBody::stored(&body).map_err(|e| corrupt("body", e))?,
        app::model::script::ScriptForm::parse(&form).map_err(|e| corrupt("form", e))?,
    )))
}

/// Whether another campaign (not `except`) has this name, ignoring case.
pub async fn name_taken(db: &Db, name: &Name, except: Option<CampaignId>) -> Result<bool, DbError> {
    super::name_taken(db, super::Named::Campaigns, name.as_str(), except.map(|x| x.0)).await
}

/// Assigns an agent to a campaign (idempotent) or removes them.
pub async fn set_agent(
    db: &Db,
    campaign: CampaignId,
    agent: UserId,
    assigned: bool,
) -> Result<(), DbError> {
    let sql = if assigned {
        "INSERT INTO campaign_agents (campaign_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM campaign_agents WHERE campaign_id = $1 AND user_id = $2"
    };
    with_pool!(db, pool => sqlx::query(sql).bind(campaign.0).bind(agent.0).execute(pool).await.map(drop))?;
    Ok(())
}
