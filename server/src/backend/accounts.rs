//! User administration and self-service over the database.
//!
//! Rules enforced here: usernames are unique; there is always at least one enabled admin;
//! admins do not change their own role or disable themselves (another admin must); a
//! password reset or a disable ends the user's sessions at once; a profile is changed only by
//! its owner (the self-service calls take the user from the session, never from the request).

use app::model::{
    ApiError, AudioDevices, DisplayName, Password, Profile, Role, Theme, UserId, UserSummary,
    Username, Viewer,
};
use app::ports::{Accounts, Authenticated};

use super::internal;
use crate::auth::password;
use crate::db::{self, Db, users};

pub struct AccountsBackend {
    db: Db,
}

impl AccountsBackend {
    pub fn new(db: Db) -> Self {
        AccountsBackend { db }
    }

    async fn existing(&self, id: UserId) -> Result<users::UserRow, ApiError> {
        users::by_id(&self.db, id)
            .await
            .map_err(|e| internal("loading a user", e))?
            .ok_or_else(|| ApiError::NotFound("That user does not exist (any more).".into()))
    }

    /// The user's profile as stored now.
    async fn profile(&self, id: UserId) -> Result<Profile, ApiError> {
        self.existing(id).await?.profile().map_err(|e| internal("reading a profile", e))
    }

    async fn end_sessions(&self, id: UserId, keep: Option<i64>) -> Result<(), ApiError> {
        db::sessions::delete_for_user(&self.db, id, keep)
            .await
            .map(drop)
            .map_err(|e| internal("ending a user's sessions", e))
    }
}

const LAST_ADMIN: &str = "This is the last enabled admin. Make another user an admin first, so someone can still manage the dialer.";

#[async_trait::async_trait]
impl Accounts for AccountsBackend {
    async fn list_users(&self) -> Result<Vec<UserSummary>, ApiError> {
        let rows = users::list(&self.db).await.map_err(|e| internal("listing users", e))?;
        rows.iter().map(|r| r.summary().map_err(|e| internal("reading a user", e))).collect()
    }

    async fn create_user(
        &self,
        username: Username,
        role: Role,
        password: Password,
    ) -> Result<UserSummary, ApiError> {
        let hash = password::hash(password.expose().to_string())
            .await
            .map_err(|e| internal("hashing a password", e))?;
        match users::insert(&self.db, &username, role, &hash, db::now_ms()).await {
            Ok(row) => {
                tracing::info!(user = %username, role = role.as_str(), "user created");
                row.summary().map_err(|e| internal("reading a new user", e))
            }
            Err(e) if e.is_unique_violation() => Err(ApiError::invalid(
                "username",
                format!("The username {username} is taken. Choose another."),
            )),
            Err(e) => Err(internal("creating a user", e)),
        }
    }

    async fn set_role(&self, actor: &Viewer, user: UserId, role: Role) -> Result<(), ApiError> {
        let row = self.existing(user).await?;
        if actor.id == user && row.role().ok() != Some(role) {
            return Err(ApiError::Conflict(
                "You cannot change your own role; ask another admin.".into(),
            ));
        }
        let changed = users::set_role_keeping_an_admin(&self.db, user, role, db::now_ms())
            .await
            .map_err(|e| internal("changing a role", e))?;
        if !changed {
            return Err(ApiError::Conflict(LAST_ADMIN.into()));
        }
        tracing::info!(user = %row.username, role = role.as_str(), by = %actor.username, "role changed");
        Ok(())
    }

    async fn set_disabled(
        &self,
        actor: &Viewer,
        user: UserId,
        disabled: bool,
    ) -> Result<(), ApiError> {
        let row = self.existing(user).await?;
        if actor.id == user && disabled {
            return Err(ApiError::Conflict("You cannot disable your own account.".into()));
        }
        let changed = users::set_disabled_keeping_an_admin(&self.db, user, disabled, db::now_ms())
            .await
            .map_err(|e| internal("disabling a user", e))?;
        if !changed {
            return Err(ApiError::Conflict(LAST_ADMIN.into()));
        }
        if disabled {
            self.end_sessions(user, None).await?;
        }
        tracing::info!(user = %row.username, disabled, by = %actor.username, "account status changed");
        Ok(())
    }

    async fn reset_password(&self, user: UserId, password: Password) -> Result<(), ApiError> {
        let row = self.existing(user).await?;
        let hash = password::hash(password.expose().to_string())
            .await
            .map_err(|e| internal("hashing a password", e))?;
        users::set_password_hash(&self.db, user, &hash, db::now_ms())
            .await
            .map_err(|e| internal("resetting a password", e))?;
        self.end_sessions(user, None).await?;
        tracing::info!(user = %row.username, "password reset");
        Ok(())
    }

    async fn change_own_password(
        &self,
        who: &Authenticated,
        current: &str,
        new: Password,
    ) -> Result<(), ApiError> {
        let row = self.existing(who.viewer.id).await?;
        let ok = password::verify(Some(row.password_hash.clone()), current.to_string())
            .await
            .map_err(|e| internal("checking a password", e))?;
        if !ok {
            return Err(ApiError::invalid("current", "The current password is wrong."));
        }
        let hash = password::hash(new.expose().to_string())
            .await
            .map_err(|e| internal("hashing a password", e))?;
        users::set_password_hash(&self.db, who.viewer.id, &hash, db::now_ms())
            .await
            .map_err(|e| internal("changing a password", e))?;
        self.end_sessions(who.viewer.id, Some(who.session_id)).await?;
        tracing::info!(user = %row.username, "password changed by its owner");
        Ok(())
    }

    async fn save_own_look(
        &self,
        who: &Authenticated,
        name: DisplayName,
        theme: Theme,
    ) -> Result<Profile, ApiError> {
        let found = users::set_look(&self.db, who.viewer.id, &name, theme, db::now_ms())
            .await
            .map_err(|e| internal("saving a profile", e))?;
        if !found {
            return Err(ApiError::NotFound("That user does not exist (any more).".into()));
        }
        tracing::info!(user = %who.viewer.username, theme = theme.as_str(), "profile saved");
        self.profile(who.viewer.id).await
    }

    async fn save_own_audio_devices(
        &self,
        who: &Authenticated,
        devices: AudioDevices,
    ) -> Result<Profile, ApiError> {
        let found = users::set_audio_devices(&self.db, who.viewer.id, &devices, db::now_ms())
            .await
            .map_err(|e| internal("saving audio devices", e))?;
        if !found {
            return Err(ApiError::NotFound("That user does not exist (any more).".into()));
        }
        tracing::info!(user = %who.viewer.username, "audio devices saved");
        self.profile(who.viewer.id).await
    }
}
