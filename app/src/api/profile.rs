//! My Profile: the signed-in user's own name, theme and phone audio devices. Every role has a
//! profile; each call changes only the caller's own (the user comes from the session, and no
//! argument names a user).

use crate::model::{ApiError, Profile};
use leptos::prelude::*;

/// Saves the name colleagues see and the interface theme; a bad field saves nothing.
#[server(endpoint = "account/profile")]
pub async fn save_profile(display_name: String, theme: String) -> Result<Profile, ApiError> {
    use crate::model::{DisplayName, Theme};
    let who = guard::signed_in()?;
    let name =
        DisplayName::parse(&display_name).map_err(|m| ApiError::invalid("display_name", m))?;
    let theme = Theme::parse(&theme).map_err(|m| ApiError::invalid("theme", m))?;
    guard::ports()?.accounts.save_own_look(&who, name, theme).await
}

/// Saves the phone's microphone (`input`) and speaker (`output`) by the browser's device ids;
/// an empty id is the browser's default device. A bad id saves nothing.
#[server(endpoint = "account/audio_devices")]
pub async fn save_audio_devices(input: String, output: String) -> Result<Profile, ApiError> {
    use crate::model::{AudioDevices, DeviceId};
    let who = guard::signed_in()?;
    let input = DeviceId::parse_choice(&input).map_err(|m| ApiError::invalid("input", m))?;
    let output = DeviceId::parse_choice(&output).map_err(|m| ApiError::invalid("output", m))?;
    guard::ports()?.accounts.save_own_audio_devices(&who, AudioDevices { input, output }).await
}

#[cfg(feature = "ssr")]
use super::guard;
