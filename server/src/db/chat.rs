//! Chat messages and read marks (`app::model::chat`).
//!
//! Invariant: a conversation has one stored name whoever reads it ([`thread`]): a room is
//! `room:ID`, two people `users:LOW:HIGH`; history pages and read marks are ranges of it.
//! Who may read or write what is the chat port's to decide; nothing here checks it.

use app::model::chat::{ChatMessage, Conversation, Member};
use app::model::{CampaignId, Role, UserId};

use super::{Db, DbError, with_pool};

/// The stored name of the conversation `reader` calls `c`.
pub fn thread(reader: UserId, c: Conversation) -> String {
    match c {
        Conversation::Room(room) => format!("room:{}", room.0),
        Conversation::Direct(other) => {
            let (low, high) = if reader.0 < other.0 { (reader, other) } else { (other, reader) };
            format!("users:{}:{}", low.0, high.0)
        }
    }
}

/// Someone who can chat, as the rules and the contact list need them.
#[derive(Clone, Debug)]
pub struct Person {
    pub member: Member,
    /// The name colleagues see.
    pub name: String,
}

/// Every enabled user with the campaigns they are assigned to, by name; and every campaign
/// (id, name), by name.
pub async fn people(db: &Db) -> Result<(Vec<Person>, Vec<(CampaignId, String)>), DbError> {
    let (users, links, campaigns) = with_pool!(db, pool => {
        let users = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT id, COALESCE(display_name, username), role FROM users \
             WHERE NOT disabled ORDER BY LOWER(COALESCE(display_name, username)), id")
            .fetch_all(pool)
            .await?;
        let links = sqlx::query_as::<_, (i64, i64)>(
            "SELECT user_id, campaign_id FROM campaign_agents ORDER BY campaign_id")
            .fetch_all(pool)
            .await?;
        let campaigns = sqlx::query_as::<_, (i64, String)>(
            "SELECT id, name FROM campaigns ORDER BY LOWER(name), id")
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((users, links, campaigns))
    })?;
    let people = users
        .into_iter()
        .map(|(id, name, role)| {
            let role =
                Role::parse(&role).map_err(|_| DbError::Corrupt(format!("role {role:?}")))?;
            let campaigns =
                links.iter().filter(|(u, _)| *u == id).map(|(_, c)| CampaignId(*c)).collect();
            Ok(Person { member: Member { id: UserId(id), role, campaigns }, name })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    let campaigns = campaigns.into_iter().map(|(id, name)| (CampaignId(id), name)).collect();
    Ok((people, campaigns))
}

/// A new message; `to` is a person or a room. Returns its id.
pub async fn insert(
    db: &Db,
    from: UserId,
    to: Conversation,
    text: &str,
    broadcast: bool,
    now: i64,
) -> Result<i64, DbError> {
    let (recipient, campaign) = match to {
        Conversation::Direct(u) => (Some(u.0), None),
        Conversation::Room(c) => (None, Some(c.0)),
    };
    let id: i64 = with_pool!(db, pool => sqlx::query_scalar(
            "INSERT INTO chat_messages \
             (conversation, sender_id, recipient_id, campaign_id, body, broadcast, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(thread(from, to))
        .bind(from.0)
        .bind(recipient)
        .bind(campaign)
        .bind(text)
        .bind(broadcast)
        .bind(now)
        .fetch_one(pool)
        .await)?;
    Ok(id)
}

type Row = (i64, i64, i64, String, Option<i64>, Option<i64>, String, bool);

const COLUMNS: &str = "SELECT m.id, m.created_at, m.sender_id, COALESCE(u.display_name, u.username), \
     m.campaign_id, m.recipient_id, m.body, m.broadcast \
     FROM chat_messages m JOIN users u ON u.id = m.sender_id";

fn message((id, at, from, author, room, to, text, broadcast): Row) -> ChatMessage {
    ChatMessage {
        id,
        at,
        from: UserId(from),
        author,
        room: room.map(CampaignId),
        to: to.map(UserId),
        text,
        broadcast,
    }
}

/// One message by id.
pub async fn get(db: &Db, id: i64) -> Result<Option<ChatMessage>, DbError> {
    let sql = format!("{COLUMNS} WHERE m.id = $1");
    let row = with_pool!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(message))
}

/// Up to `limit` messages of `thread` older than `before` (from the newest without it),
/// oldest first, and whether there are older ones still.
pub async fn page(
    db: &Db,
    thread: &str,
    before: Option<i64>,
    limit: u32,
) -> Result<(Vec<ChatMessage>, bool), DbError> {
    let sql =
        format!("{COLUMNS} WHERE m.conversation = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3");
    let rows = with_pool!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.clone()))
        .bind(thread)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await)?;
    let earlier = rows.len() > limit as usize;
    let mut messages: Vec<ChatMessage> =
        rows.into_iter().take(limit as usize).map(message).collect();
    messages.reverse();
    Ok((messages, earlier))
}

/// Marks `thread` read by `reader` up to message `up_to` (a mark never moves back).
pub async fn mark_read(db: &Db, reader: UserId, thread: &str, up_to: i64) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query(
            "INSERT INTO chat_reads (user_id, conversation, last_read) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, conversation) DO UPDATE SET last_read = \
             CASE WHEN excluded.last_read > chat_reads.last_read \
             THEN excluded.last_read ELSE chat_reads.last_read END")
        .bind(reader.0)
        .bind(thread)
        .bind(up_to)
        .execute(pool)
        .await
        .map(drop))?;
    Ok(())
}

/// The messages others wrote that `reader` has not read: per one-to-one partner, and per room
/// (every room's; the caller keeps the reader's rooms).
pub async fn unread(
    db: &Db,
    reader: UserId,
) -> Result<(Vec<(UserId, u32)>, Vec<(CampaignId, u32)>), DbError> {
    let rows = with_pool!(db, pool => sqlx::query_as::<_, (i64, Option<i64>, i64)>(
            "SELECT m.sender_id, m.campaign_id, COUNT(*) FROM chat_messages m \
             LEFT JOIN chat_reads r ON r.user_id = $1 AND r.conversation = m.conversation \
             WHERE m.sender_id <> $1 AND (m.recipient_id = $1 OR m.campaign_id IS NOT NULL) \
             AND m.id > COALESCE(r.last_read, 0) \
             GROUP BY m.sender_id, m.campaign_id")
        .bind(reader.0)
        .fetch_all(pool)
        .await)?;
    let (mut people, mut rooms) = (Vec::<(UserId, u32)>::new(), Vec::<(CampaignId, u32)>::new());
    for (sender, room, n) in rows {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match room {
            Some(room) => match rooms.iter_mut().find(|(c, _)| c.0 == room) {
                Some((_, total)) => *total = total.saturating_add(n),
                None => rooms.push((CampaignId(room), n)),
            },
            None => people.push((UserId(sender), n)),
        }
    }
    Ok((people, rooms))
}

/// Everyone who has written to `reader` one to one.
pub async fn writers_to(db: &Db, reader: UserId) -> Result<Vec<UserId>, DbError> {
    let ids = with_pool!(db, pool => sqlx::query_scalar::<_, i64>(
            "SELECT DISTINCT sender_id FROM chat_messages WHERE recipient_id = $1")
        .bind(reader.0)
        .fetch_all(pool)
        .await)?;
    Ok(ids.into_iter().map(UserId).collect())
}
