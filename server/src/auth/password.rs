//! Password hashing with argon2id (the crate's defaults: RFC 9106's second recommended
//! parameter set), run off the async runtime because each hash costs tens of milliseconds.
//!
//! Invariant: hashes run on a few threads of their own ([`HASHERS`], one per core up to
//! [`MAX_HASHERS`]), one hash at a time each, in working memory the thread keeps from one hash
//! to the next ([`MEMORY`]). Each hash takes 19 MiB and a core, so a burst of logins (a shift
//! starting, or a flood) queues here instead of taking the machine's memory, and the hashes
//! hold at most `MAX_HASHERS` × 19 MiB, for good. Memory allocated per hash and freed after
//! was kept by the C allocator in its arenas far beyond that: a burst of 500 logins on the
//! runtime's blocking threads left an idle server at 1.2 GB, and creating 50 agents in bulk
//! on two hashing threads at 327 MB, where kept memory holds it at 94 MB (debug build, 52 MB
//! before the first hash).
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), the format the `argon2`
//! crate writes and reads: hashes stored before this module hashed into kept memory verify
//! alike.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
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

/// At most this many hashing threads (on a machine with more cores a burst of logins still
/// clears at several hundred a second, and the kept memory stays bounded).
const MAX_HASHERS: usize = 4;

/// The hashing threads' queue: one thread per core up to [`MAX_HASHERS`], started on first
/// use.
static HASHERS: LazyLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(MAX_HASHERS);
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

thread_local! {
    /// This thread's Argon2 working memory (19 MiB with the default parameters), kept from one
    /// hash to the next: every block is written before it is read, so nothing needs clearing.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 of `password` and `salt` into `out`, in this thread's kept memory when `argon`'s
/// parameters need no more than the defaults (a stored hash with larger ones is given memory
/// of its own, freed after).
fn argon2_into(argon: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let blocks = argon.params().block_count();
    if blocks > Params::default().block_count() {
        return argon.hash_password_into(password, salt, out);
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let failed = |e: argon2::password_hash::Error| PasswordError::Hash(e.to_string());
    let salt = rand::random::<[u8; 16]>();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default());
    let hash = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(argon2_into(&argon, password.as_bytes(), &salt, out)?)
    })
    .map_err(failed)?;
    let salt = SaltString::encode_b64(&salt).map_err(failed)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(hash),
    };
    Ok(phc.to_string())
}

/// Whether `password` hashes to the PHC string `stored` (with the algorithm, version,
/// parameters and salt written in it; compared in constant time). Anything unreadable in
/// `stored` is a mismatch.
fn matches(stored: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Ok(algorithm), Ok(params)) =
        (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed))
    else {
        return false;
    };
    let Ok(version) = parsed.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let argon = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        Ok(argon2_into(&argon, password.as_bytes(), salt, out)?)
    })
    .is_ok_and(|computed| computed == expected)
}

/// A hash of a password nobody knows, verified against when the user does not exist so that
/// "no such user" and "wrong password" take the same time.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("no user has this password").unwrap_or_default());

/// Checks `password` against a stored hash; `None` (unknown user) checks against a dummy hash
/// and is always false. A malformed stored hash counts as a mismatch.
pub async fn verify(stored: Option<String>, password: String) -> Result<bool, PasswordError> {
    hashing(move || {
        let checked = matches(stored.as_deref().unwrap_or(&DUMMY_HASH), &password);
        stored.is_some() && checked
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
    async fn hashes_read_and_written_by_the_argon2_crate_itself_agree_with_ours() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // One stored before hashes were made in kept memory (the crate's own writer).
        let salt = SaltString::encode_b64(b"sixteen bytes!!!").unwrap();
        let theirs = Argon2::default().hash_password(b"correct horse", &salt).unwrap().to_string();
        assert!(verify(Some(theirs.clone()), "correct horse".into()).await.unwrap());
        assert!(!verify(Some(theirs), "correct horsf".into()).await.unwrap());
        // Ours, read by the crate's own verifier.
        let ours = hash("correct horse".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse", &parsed).is_err());
    }

    #[test]
    fn other_parameters_and_versions_are_read_from_the_hash() {
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::encode_b64(b"sixteen bytes!!!").unwrap();
        // Cheaper and dearer than ours (the dearer one takes memory of its own), Argon2i, the
        // old version 0x10, a longer output.
        for (algorithm, version, params) in [
            (Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, None).unwrap()),
            (Algorithm::Argon2id, Version::V0x13, Params::new(24 * 1024, 1, 1, None).unwrap()),
            (Algorithm::Argon2i, Version::V0x10, Params::new(2048, 2, 2, Some(48)).unwrap()),
        ] {
            let argon = Argon2::new(algorithm, version, params);
            let stored = argon.hash_password(b"pw", &salt).unwrap().to_string();
            assert!(matches(&stored, "pw"), "{stored}");
            assert!(!matches(&stored, "pW"), "{stored}");
        }
        // Unreadable: not PHC, an unknown algorithm, no hash, a bad parameter.
        for stored in [
            "",
            "$argon2id$v=19$m=19456,t=2,p=1$c2l4dGVlbiBieXRlcyEhIQ",
            "$scrypt$ln=16,r=8,p=1$c2l4dGVlbiBieXRlcyEhIQ$aGFzaA",
            "$argon2id$v=19$m=x,t=2,p=1$c2l4dGVlbiBieXRlcyEhIQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=7$m=19456,t=2,p=1$c2l4dGVlbiBieXRlcyEhIQ$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(!matches(stored, "pw"), "{stored:?}");
        }
    }

    #[tokio::test]
    async fn unknown_users_and_bad_hashes_never_verify() {
        assert!(!verify(None, "no user has this password".into()).await.unwrap());
        assert!(!verify(Some("not a hash".into()), "x".into()).await.unwrap());
    }
}
