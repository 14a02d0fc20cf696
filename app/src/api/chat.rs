//! Chat: everyone signed in talks one to one and in their campaigns' rooms (the rules of who
//! reaches whom are the model's, applied by the port). A conversation is passed by its key
//! (`user:7`, `room:3`, see [`crate::model::chat::Conversation::key`]).

use crate::model::ApiError;
use crate::model::chat::{ChatMessage, ChatOverview, ChatPage};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    crate::api::guard,
    crate::model::chat::{ChatText, Conversation},
};

/// The conversation a key names (a key that names none is a bad `to`).
#[cfg(feature = "ssr")]
fn conversation(key: &str) -> Result<Conversation, ApiError> {
    Conversation::parse(key).map_err(|m| ApiError::invalid("to", m))
}

/// The signed-in user's rooms and people with their unread counts.
#[server(endpoint = "chat/overview")]
pub async fn load_chat() -> Result<ChatOverview, ApiError> {
    let who = guard::signed_in()?;
    guard::ports()?.chat.overview(who.viewer.id).await
}

/// A page of a conversation: the latest messages, or those before message `before`.
#[server(endpoint = "chat/history")]
pub async fn chat_history(
    with: String,
    #[server(default)] before: Option<i64>,
) -> Result<ChatPage, ApiError> {
    let who = guard::signed_in()?;
    guard::ports()?.chat.history(who.viewer.id, conversation(&with)?, before).await
}

/// Sends a message to a person or a room (`broadcast`: a supervisor's or admin's broadcast
/// to a room).
#[server(endpoint = "chat/send")]
pub async fn send_chat(
    to: String,
    text: String,
    #[server(default)] broadcast: bool,
) -> Result<ChatMessage, ApiError> {
    let who = guard::signed_in()?;
    let to = conversation(&to)?;
    let text = ChatText::parse(&text).map_err(|m| ApiError::invalid("text", m))?;
    guard::ports()?.chat.send(who.viewer.id, to, text, broadcast).await
}

/// Marks a conversation read up to message `up_to`.
#[server(endpoint = "chat/read")]
pub async fn read_chat(with: String, up_to: i64) -> Result<(), ApiError> {
    let who = guard::signed_in()?;
    guard::ports()?.chat.read(who.viewer.id, conversation(&with)?, up_to).await
}
