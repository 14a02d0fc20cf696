//! Users: accounts with a role and an argon2 password hash. Usernames are stored normalised
//! (see `app::model::Username`), so the UNIQUE constraint is case-insensitive in effect.

use app::model::{
    AudioDevices, DeviceId, DisplayName, Profile, Role, Theme, UserId, UserSummary, Username,
    Viewer,
};

use app::model::sip_phone::SipPhoneAccount;

use super::{Db, DbError, with_pool};

/// A `users` row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub display_name: Option<String>,
    pub theme: String,
    pub audio_input: Option<String>,
    pub audio_output: Option<String>,
}

impl UserRow {
    /// The stored role, checked.
    pub fn role(&self) -> Result<Role, DbError> {
        Role::parse(&self.role).map_err(|_| DbError::Corrupt(format!("role {:?}", self.role)))
    }

    /// The stored username, checked.
    pub fn username(&self) -> Result<Username, DbError> {
        Username::parse(&self.username)
            .map_err(|_| DbError::Corrupt(format!("username {:?}", self.username)))
    }

    /// The user's own choices, checked.
    pub fn profile(&self) -> Result<Profile, DbError> {
        let corrupt = |what: &str, v: &str| DbError::Corrupt(format!("{what} {v:?}"));
        let device = |v: &Option<String>| {
            v.as_deref()
                .map(|d| DeviceId::parse(d).map_err(|_| corrupt("audio device", d)))
                .transpose()
        };
        Ok(Profile {
            display_name: self
                .display_name
                .as_deref()
                .map(|n| DisplayName::parse(n).map_err(|_| corrupt("display name", n)))
                .transpose()?,
            theme: Theme::parse(&self.theme).map_err(|_| corrupt("theme", &self.theme))?,
            audio: AudioDevices {
                input: device(&self.audio_input)?,
                output: device(&self.audio_output)?,
            },
        })
    }

    /// The name other people see: the display name, else the username.
    pub fn shown_name(&self) -> String {
        self.display_name.clone().unwrap_or_else(|| self.username.clone())
    }

    /// The row as the signed-in viewer.
    pub fn viewer(&self) -> Result<Viewer, DbError> {
        Ok(Viewer::new(UserId(self.id), self.username()?, self.role()?, &self.profile()?))
    }

    /// The row as a line of the users list.
    pub fn summary(&self) -> Result<UserSummary, DbError> {
        Ok(UserSummary {
            id: UserId(self.id),
            username: self.username()?,
            role: self.role()?,
            disabled: self.disabled,
            created_at: self.created_at,
            last_login_at: self.last_login_at,
        })
    }
}

/// The columns of [`UserRow`], for `concat!` into statements.
macro_rules! user_columns {
    () => {
        "id, username, role, password_hash, disabled, created_at, updated_at, last_login_at, \
         display_name, theme, audio_input, audio_output"
    };
}

/// Inserts a user; a taken username fails with a unique violation.
pub async fn insert(
    db: &Db,
    username: &Username,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<UserRow, DbError> {
    let sql = concat!(
        "INSERT INTO users (username, role, password_hash, disabled, created_at, updated_at) ",
        "VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING ",
        user_columns!()
    );
    let row = with_pool!(db, pool => sqlx::query_as::<_, UserRow>(sql)
        .bind(username.as_str())
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now)
        .fetch_one(pool)
        .await)?;
    Ok(row)
}

/// The user with this (normalised) username.
pub async fn by_username(db: &Db, username: &Username) -> Result<Option<UserRow>, DbError> {
    let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE username = $1");
    Ok(with_pool!(db, pool => sqlx::query_as::<_, UserRow>(sql)
        .bind(username.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// The user with this id.
pub async fn by_id(db: &Db, id: UserId) -> Result<Option<UserRow>, DbError> {
    let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
    Ok(with_pool!(db, pool => sqlx::query_as::<_, UserRow>(sql)
        .bind(id.0)
        .fetch_optional(pool)
        .await)?)
}

/// Every user, by username.
pub async fn list(db: &Db) -> Result<Vec<UserRow>, DbError> {
    let sql = concat!("SELECT ", user_columns!(), " FROM users ORDER BY username");
    Ok(with_pool!(db, pool => sqlx::query_as::<_, UserRow>(sql).fetch_all(pool).await)?)
}

/// How many users exist at all (zero on a fresh database).
pub async fn count(db: &Db) -> Result<i64, DbError> {
    Ok(with_pool!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await)?)
}

/// Sets a user's role, unless that would leave no enabled admin: the check and the update are
/// one statement, so two admins demoting each other at once cannot both succeed. Returns
/// whether the row changed.
pub async fn set_role_keeping_an_admin(
    db: &Db,
    id: UserId,
    role: Role,
    now: i64,
) -> Result<bool, DbError> {
    let sql = "UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 AND ($1 = 'admin' \
               OR (SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $3) > 0)";
    let done = with_pool!(db, pool => sqlx::query(sql)
        .bind(role.as_str())
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Disables or enables a user, never disabling the last enabled admin (one statement, as for
/// roles). Returns whether the row changed.
pub async fn set_disabled_keeping_an_admin(
    db: &Db,
    id: UserId,
    disabled: bool,
    now: i64,
) -> Result<bool, DbError> {
    let sql = "UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3 AND (NOT $1 \
               OR role <> 'admin' \
               OR (SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $3) > 0)";
    let done = with_pool!(db, pool => sqlx::query(sql)
        .bind(disabled)
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Replaces a user's password hash. Returns whether the user exists.
pub async fn set_password_hash(db: &Db, id: UserId, hash: &str, now: i64) -> Result<bool, DbError> {
    let done = with_pool!(db, pool => sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Saves a user's display name and theme. Returns whether the user exists.
pub async fn set_look(
    db: &Db,
    id: UserId,
    name: &DisplayName,
    theme: Theme,
    now: i64,
) -> Result<bool, DbError> {
    let done = with_pool!(db, pool => sqlx::query(
            "UPDATE users SET display_name = $1, theme = $2, updated_at = $3 WHERE id = $4")
        .bind(name.as_str())
        .bind(theme.as_str())
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Saves a user's phone audio devices (`None`: the browser's default). Returns whether the
/// user exists.
pub async fn set_audio_devices(
    db: &Db,
    id: UserId,
    devices: &AudioDevices,
    now: i64,
) -> Result<bool, DbError> {
    let done = with_pool!(db, pool => sqlx::query(
            "UPDATE users SET audio_input = $1, audio_output = $2, updated_at = $3 WHERE id = $4")
        .bind(devices.input.as_ref().map(DeviceId::as_str))
        .bind(devices.output.as_ref().map(DeviceId::as_str))
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Records a successful login.
pub async fn touch_login(db: &Db, id: UserId, now: i64) -> Result<(), DbError> {
    with_pool!(db, pool => sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Inserts agents, each with its SIP phone if given, in one transaction: all of them, or none
/// when any name is taken (the unique violation rolls the whole batch back).
pub async fn insert_agents(
    db: &Db,
    agents: &[(Username, String, Option<SipPhoneAccount>)],
    now: i64,
) -> Result<(), DbError> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        for (username, hash, phone) in agents {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (username, role, password_hash, disabled, created_at, updated_at) \
                 VALUES ($1, 'agent', $2, FALSE, $3, $3) RETURNING id")
                .bind(username.as_str())
                .bind(hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(p) = phone {
                sqlx::query(
                    "INSERT INTO agent_sip_phones (user_id, sip_user, secret, transport, codecs) \
                     VALUES ($1, $2, $3, $4, $5)")
                    .bind(id)
                    .bind(p.user.as_str())
                    .bind(p.secret.expose())
                    .bind(p.transport.as_str())
                    .bind(app::model::trunk::Codec::list_text(&p.codecs))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await
    })?;
    Ok(())
}

/// Which of these usernames exist already.
pub async fn existing(db: &Db, names: &[Username]) -> Result<Vec<String>, DbError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    // One placeholder per name; both dialects number them `$1`, `$2`…
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT username FROM users WHERE username IN ({}) ORDER BY username",
        placeholders.join(", ")
    );
    let found: Vec<String> = with_pool!(db, pool => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
        for n in names {
            q = q.bind(n.as_str());
        }
        q.fetch_all(pool).await
    })?;
    Ok(found)
}

/// Everyone who may work the phone (agents and supervisors), by name: whom a campaign can
/// be staffed with.
pub async fn phone_users(db: &Db) -> Result<Vec<UserRow>, DbError> {
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE role IN ('agent', 'supervisor') ORDER BY username"
    );
    Ok(with_pool!(db, pool => sqlx::query_as::<_, UserRow>(sql).fetch_all(pool).await)?)
}

/// Every agent with the names of the campaigns they are assigned to.
pub async fn agents_with_campaigns(db: &Db) -> Result<Vec<(UserRow, Vec<String>)>, DbError> {
    let sql =
        concat!("SELECT ", user_columns!(), " FROM users WHERE role = 'agent' ORDER BY username");
    let (rows, links) = with_pool!(db, pool => {
        let rows = sqlx::query_as::<_, UserRow>(sql).fetch_all(pool).await?;
        let links = sqlx::query_as::<_, (i64, String)>(
            "SELECT a.user_id, c.name FROM campaign_agents a JOIN campaigns c ON c.id = a.campaign_id ORDER BY c.name")
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((rows, links))
    })?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let names = links.iter().filter(|(u, _)| *u == r.id).map(|(_, n)| n.clone()).collect();
            (r, names)
        })
        .collect())
}
