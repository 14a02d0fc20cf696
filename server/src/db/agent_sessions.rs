//! Agents' shifts in a campaign (`agent_sessions`): begun at login, ended at logout. One the
//! journal never ended is a shift still going on — on an instance that died, or one the
//! agent's phone has left for another instance — and the agent's next session ends it
//! (`journal`, [`super::journal::SESSION_CARRIED_ON`]).

use app::model::{CampaignId, UserId};

use super::{Db, DbError, with_pool};

/// Whether `agent` has a shift in `campaign` that has not ended.
pub async fn open_in(db: &Db, agent: UserId, campaign: CampaignId) -> Result<bool, DbError> {
    let sql = "SELECT COUNT(*) FROM agent_sessions \
               WHERE agent_id = $1 AND campaign_id = $2 AND ended_at IS NULL";
    let n: i64 = with_pool!(db, pool => sqlx::query_scalar(sql)
        .bind(agent.0)
        .bind(campaign.0)
        .fetch_one(pool)
        .await)?;
    Ok(n > 0)
}
