//! Who am I, and changing my own password. (Logging in and out are plain form posts handled
//! by the server's auth routes, so they work the same with and without JavaScript.)

use crate::model::{ApiError, Viewer};
use leptos::prelude::*;

/// The signed-in user, or `None` for a visitor.
#[server(endpoint = "account/whoami")]
pub async fn whoami() -> Result<Option<Viewer>, ApiError> {
    Ok(guard::authenticated().map(|a| a.viewer))
}

/// Changes the signed-in user's password; other sessions of the user end.
#[server(endpoint = "account/change_password")]
pub async fn change_password(
    current: String,
    new: String,
    confirm: String,
) -> Result<(), ApiError> {
    use crate::model::Password;
    let who = guard::signed_in()?;
    let new = Password::parse(&new).map_err(|m| ApiError::invalid("new", m))?;
    if new.expose() != confirm {
        return Err(ApiError::invalid("confirm", "The two new passwords differ."));
    }
    let ports = guard::ports()?;
    ports.accounts.change_own_password(&who, &current, new).await
}

#[cfg(feature = "ssr")]
use super::guard;
