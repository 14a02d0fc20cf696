//! The server's implementations of the UI's ports (`app::ports`), built once at start-up and
//! provided to Leptos through context.

pub mod accounts;
pub mod admin;
pub mod callbacks;
pub mod chat;
pub mod crm;
pub mod leads;
pub mod notices;
pub mod phone;
pub mod phonebook;
pub mod voicemails;

use app::model::ApiError;
use app::ports::Ports;
use std::sync::Arc;

use crate::db::Db;
use crate::lead::fetch::UrlRules;
use crate::phone::PhoneHub;
use crate::runtime::dialer::Dialer;
use crate::runtime::gateways::GatewayPool;
use crate::runtime::live::LiveBoard;

/// This server among the others on its database: its bus to them, and the bell that tells
/// open pages — here and there — of new chat messages.
pub struct Peers {
    pub bus: crate::db::notify::Bus,
    pub bell: crate::chat::ChatBell,
}

/// Builds the ports over a database, the engine's live counters, the running dialer, the
/// agents' phones and the media gateway, and the rules for fetching lead files by URL (which
/// webhook addresses follow too), and this server among its peers.
pub fn ports(
    db: Db,
    live: LiveBoard,
    dialer: Option<Dialer>,
    phones: Option<PhoneHub>,
    gateway: Option<GatewayPool>,
    url_rules: UrlRules,
    peers: Peers,
) -> Ports {
    let Peers { bus, bell } = peers;
    let chat = chat::ChatBackend::new(db.clone(), phones.clone(), bell);
    let notices = notices::NoticesBackend::new(db.clone(), phones.clone(), bus.clone());
    let admin =
        admin::AdminBackend::new(db.clone(), live.clone(), dialer.clone(), phones, gateway, bus);
    let crm = crm::CrmBackend::new(db.clone(), url_rules.allow.clone());
    Ports {
        crm: Arc::new(crm),
        chat: Arc::new(chat),
        accounts: Arc::new(accounts::AccountsBackend::new(db.clone())),
        admin: Arc::new(admin),
        leads: Arc::new(leads::LeadsBackend::new(db.clone(), url_rules)),
        phonebook: Arc::new(phonebook::PhonebookBackend::new(db.clone())),
        callbacks: Arc::new(callbacks::CallbacksBackend::new(db.clone())),
        notices: Arc::new(notices),
        voicemails: Arc::new(voicemails::VoicemailsBackend::new(db.clone())),
        phone: Arc::new(phone::PhoneBackend::new(db, dialer, live)),
    }
}

/// Logs a server-side failure and returns the error the UI may see.
pub(crate) fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "{context}");
    ApiError::Internal
}
