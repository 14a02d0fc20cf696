//! Password hashing with argon2id (the crate's defaults: RFC 9106's second recommended
//! parameter set), run off the async runtime because each hash costs tens of milliseconds.
//!
//! Invariant: hashes run on a few threads of their own ([`HASHERS`]), at most one each. Each
//! hash takes 19 MiB and a core, so a burst of logins (a shift starting, or a flood) queues
//! here instead of taking the machine's memory; and the C allocator, which keeps freed large
//! blocks in the arena of the thread that freed them, keeps at most one hash's memory per
//! hashing thread (on the runtime's blocking threads a burst of 500 logins left an idle
//! server at 1.2 GB).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::LazyLock;

/// Why hashing failed (never expected with valid parameters, but not worth a panic).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("no password hashing thread is running")]
    Gone,
}

/// A job for the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads' queue: one thread per core, started on first use.
static HASHERS: LazyLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for i in 0..threads {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new().name(format!("password-{i}")).spawn(move || {
            loop {
                // The lock is held only to take the next job, not while it runs.
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    // A job that panics loses its answer (the caller gets `Gone`), not the
                    // thread.
                    Ok(job) => {
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                    Err(_) => return,
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a password hashing thread");
        }
    }
    std::sync::Mutex::new(tx)
});

/// Runs `work` on a hashing thread and waits for its answer.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(work());
    });
    HASHERS.lock().map_err(|_| PasswordError::Gone)?.send(job).map_err(|_| PasswordError::Gone)?;
    rx.await.map_err(|_| PasswordError::Gone)
}

/// Hashes a password into a PHC string (algorithm, parameters and salt included).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    hashing(move || hash_blocking(&password)).await?
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A hash of a password nobody knows, verified against when the user does not exist so that
/// "no such user" and "wrong password" take the same time.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("no user has this password").unwrap_or_default());

/// Checks `password` against a stored hash; `None` (unknown user) checks against a dummy hash
/// and is always false. A malformed stored hash counts as a mismatch.
pub async fn verify(stored: Option<String>, password: String) -> Result<bool, PasswordError> {
    hashing(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = PasswordHash::new(&stored)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        known && ok
    })
    .await
}

/// 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I): ~92 bits.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn generated_passwords_are_long_and_unambiguous() {
        let p = super::generate();
        assert_eq!(p.len(), 16);
        assert!(!p.contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(p, super::generate());
    }
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify(Some(a.clone()), "correct horse".into()).await.unwrap());
        assert!(!verify(Some(a), "wrong horse".into()).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_users_and_bad_hashes_never_verify() {
        assert!(!verify(None, "no user has this password".into()).await.unwrap());
        assert!(!verify(Some("not a hash".into()), "x".into()).await.unwrap());
    }
}
