//! The phonebook: everyone signed in sees the shared entries and their own; admins set the
//! shared ones, agents (and everyone else) their own.

use crate::model::ApiError;
use crate::model::phonebook::{PhonebookEntry, PhonebookEntryId};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    crate::api::guard,
    crate::model::{Name, Role, UserId, phonebook::parse_note},
};

/// The shared entries and the signed-in user's own.
#[server(endpoint = "phonebook/list")]
pub async fn list_phonebook() -> Result<Vec<PhonebookEntry>, ApiError> {
    let who = guard::signed_in()?;
    guard::ports()?.phonebook.list(who.viewer.id).await
}

/// Who an entry belongs to: a shared entry is an admin's to set, a personal one its owner's.
#[cfg(feature = "ssr")]
fn owner(shared: bool) -> Result<Option<UserId>, ApiError> {
    if shared {
        guard::require(&[Role::Admin])?;
        Ok(None)
    } else {
        Ok(Some(guard::signed_in()?.viewer.id))
    }
}

/// Adds (no `id`) or changes an entry: shared (admins) or the signed-in user's own.
#[server(endpoint = "phonebook/save")]
pub async fn save_phonebook_entry(
    #[server(default)] id: Option<i64>,
    #[server(default)] shared: bool,
    name: String,
    phone: String,
    #[server(default)] note: String,
) -> Result<PhonebookEntryId, ApiError> {
    let owner = owner(shared)?;
    let name = Name::parse(&name).map_err(|m| ApiError::invalid("name", m))?;
    let note = parse_note(&note).map_err(|m| ApiError::invalid("note", m))?;
    guard::ports()?.phonebook.save(owner, id.map(PhonebookEntryId), name, &phone, note).await
}

/// Deletes an entry: shared (admins) or the signed-in user's own.
#[server(endpoint = "phonebook/delete")]
pub async fn delete_phonebook_entry(
    id: i64,
    #[server(default)] shared: bool,
) -> Result<(), ApiError> {
    let owner = owner(shared)?;
    guard::ports()?.phonebook.delete(owner, PhonebookEntryId(id)).await
}
