//! The chat port: the model's rules of who may reach whom over the stored people, history
//! and read marks; each message is delivered at once to its readers' phones (over the phone
//! socket) and to their other pages (the live channel's bell). Sending is flood-limited per
//! user ([`FloodLimit::standard`], counted by this process).

use std::sync::Mutex;
use std::time::Instant;

use app::model::chat::{
    ChatContact, ChatMessage, ChatOverview, ChatPage, ChatText, Conversation, in_room,
    may_broadcast, may_write,
};
use app::model::{ApiError, Role, UserId};
use app::ports::Chat;

use super::internal;
use crate::chat::{ChatBell, FloodLimit};
use crate::db::chat::Person;
use crate::db::{self, Db};
use crate::phone::PhoneHub;

pub struct ChatBackend {
    db: Db,
    phones: Option<PhoneHub>,
    bell: ChatBell,
    flood: Mutex<FloodLimit>,
    started: Instant,
}

impl ChatBackend {
    pub fn new(db: Db, phones: Option<PhoneHub>, bell: ChatBell) -> ChatBackend {
        ChatBackend {
            db,
            phones,
            bell,
            flood: Mutex::new(FloodLimit::standard()),
            started: Instant::now(),
        }
    }

    /// Everyone who can chat, the campaigns (id, name), and `me` among the people.
    async fn people(
        &self,
        me: UserId,
    ) -> Result<(Vec<Person>, Vec<(app::model::CampaignId, String)>, Person), ApiError> {
        let (people, campaigns) =
            db::chat::people(&self.db).await.map_err(|e| internal("loading chat people", e))?;
        let me = people.iter().find(|p| p.member.id == me).cloned().ok_or(ApiError::Forbidden)?;
        Ok((people, campaigns, me))
    }

    /// Checks that `me` may take part in `with`; returns everyone, for the readers.
    async fn enter(
        &self,
        me: UserId,
        with: Conversation,
    ) -> Result<(Vec<Person>, Person), ApiError> {
        let (people, _, me) = self.people(me).await?;
        match with {
            Conversation::Room(room) => {
                if !in_room(&me.member, room) {
                    return Err(ApiError::invalid(
                        "to",
                        "You are not in that campaign's room: only its agents, its supervisors and admins are.",
                    ));
                }
            }
            Conversation::Direct(other) => {
                let unreachable = || {
                    ApiError::invalid(
                        "to",
                        "You cannot write to that person: agents write to the people of their own campaigns, their supervisors and admins.",
                    )
                };
                let other = people.iter().find(|p| p.member.id == other).ok_or_else(unreachable)?;
                let wrote = if me.member.role == Role::Agent {
                    db::chat::writers_to(&self.db, me.member.id)
                        .await
                        .map_err(|e| internal("loading chat writers", e))?
                        .contains(&other.member.id)
                } else {
                    false
                };
                if !may_write(&me.member, &other.member, wrote) {
                    return Err(unreachable());
                }
            }
        }
        Ok((people, me))
    }
}

#[async_trait::async_trait]
impl Chat for ChatBackend {
    async fn overview(&self, me: UserId) -> Result<ChatOverview, ApiError> {
        let (people, campaigns, me) = self.people(me).await?;
        let (unread_people, unread_rooms) = db::chat::unread(&self.db, me.member.id)
            .await
            .map_err(|e| internal("counting unread chat", e))?;
        let writers = db::chat::writers_to(&self.db, me.member.id)
            .await
            .map_err(|e| internal("loading chat writers", e))?;
        let rooms = campaigns.iter().filter(|(c, _)| in_room(&me.member, *c)).map(|(c, name)| {
            ChatContact {
                conversation: Conversation::Room(*c),
                name: format!("{name} room"),
                unread: unread_rooms.iter().find(|(r, _)| r == c).map_or(0, |(_, n)| *n),
                can_broadcast: may_broadcast(&me.member, *c),
            }
        });
        let others = people
            .iter()
            .filter(|p| may_write(&me.member, &p.member, writers.contains(&p.member.id)))
            .map(|p| ChatContact {
                conversation: Conversation::Direct(p.member.id),
                name: format!("{} ({})", p.name, p.member.role.label()),
                unread: unread_people
                    .iter()
                    .find(|(u, _)| *u == p.member.id)
                    .map_or(0, |(_, n)| *n),
                can_broadcast: false,
            });
        Ok(ChatOverview { me: Some(me.member.id), contacts: rooms.chain(others).collect() })
    }

    async fn history(
        &self,
        me: UserId,
        with: Conversation,
        before: Option<i64>,
    ) -> Result<ChatPage, ApiError> {
        self.enter(me, with).await?;
        let (messages, earlier) =
            db::chat::page(&self.db, &db::chat::thread(me, with), before, ChatPage::SIZE)
                .await
                .map_err(|e| internal("loading chat history", e))?;
        Ok(ChatPage { messages, earlier })
    }

    async fn send(
        &self,
        me: UserId,
        to: Conversation,
        text: ChatText,
        broadcast: bool,
    ) -> Result<ChatMessage, ApiError> {
        let (people, sender) = self.enter(me, to).await?;
        let readers: Vec<UserId> = match to {
            Conversation::Room(room) => {
                if broadcast && !may_broadcast(&sender.member, room) {
                    return Err(ApiError::invalid(
                        "broadcast",
                        "Only the campaign's supervisors and admins broadcast to its room.",
                    ));
                }
                people.iter().filter(|p| in_room(&p.member, room)).map(|p| p.member.id).collect()
            }
            Conversation::Direct(other) => {
                if broadcast {
                    return Err(ApiError::invalid(
                        "broadcast",
                        "A broadcast goes to a campaign's room, not to one person.",
                    ));
                }
                vec![me, other]
            }
        };
        let admitted =
            self.flood.lock().unwrap_or_else(|p| p.into_inner()).admit(me, self.started.elapsed());
        if let Err(wait) = admitted {
            return Err(ApiError::Conflict(format!(
                "You are sending messages too fast (at most 10 in 10 seconds): wait {} s and send again.",
                wait.as_secs().max(1)
            )));
        }
        let id = db::chat::insert(&self.db, me, to, text.as_str(), broadcast, db::now_ms())
            .await
            .map_err(|e| internal("storing a chat message", e))?;
        let message = db::chat::get(&self.db, id)
            .await
            .map_err(|e| internal("loading a chat message", e))?
            .ok_or(ApiError::Internal)?;
        // What one writes, one has read.
        db::chat::mark_read(&self.db, me, &db::chat::thread(me, to), id)
            .await
            .map_err(|e| internal("marking chat read", e))?;
        if let Some(phones) = &self.phones {
            phones.chat(&readers, &message);
        }
        self.bell.ring(readers.clone());
        self.bell.tell_peers(Some(id), &readers).await;
        Ok(message)
    }

    async fn read(&self, me: UserId, with: Conversation, up_to: i64) -> Result<(), ApiError> {
        self.enter(me, with).await?;
        db::chat::mark_read(&self.db, me, &db::chat::thread(me, with), up_to)
            .await
            .map_err(|e| internal("marking chat read", e))?;
        // The reader's other pages: their counts drop too.
        self.bell.ring(vec![me]);
        self.bell.tell_peers(None, &[me]).await;
        Ok(())
    }
}
