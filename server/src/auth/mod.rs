//! Passwords, tokens and the authenticated user.
//!
//! - Passwords are stored as argon2id PHC strings.
//! - Access tokens are short-lived JWTs (HS256 pinned; `exp`, `iat`, `iss`, `aud`, `sub`
//!   required) signed with a key kept in the database, so every instance on one PostgreSQL
//!   shares it. A token names its login (`sid`); revoking the login (logout, disabling the
//!   user, reuse of a rotated refresh token) makes its access tokens fail at once.
//! - Refresh tokens are 32 random bytes, stored only as SHA-256 hashes, rotated on every
//!   use; presenting a rotated one revokes the whole login, unless it comes back within
//!   [`REFRESH_GRACE`] of its rotation while the login is live (see there).

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod password;
mod user;

pub use password::{MIN_PASSWORD_CHARS, Password, PasswordError};
pub use user::{AuthUser, authenticate};

/// How long an access token lives.
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a refresh token lives.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a refresh token just rotated may be presented again and still be answered
/// (with a fresh successor in the same login) instead of ending the login as a reuse.
///
/// Real networks present a token twice without anyone having stolen it: a tablet on bad
/// Wi-Fi whose refresh answer was lost retries with the same token (mobile HTTP stacks
/// give up and retry after 10 to 30 s), and two requests of one page that both find the
/// access token about to expire refresh at the same moment. Treating those as theft logs
/// the user out. 30 s covers a retry after a lost answer; beyond it, a rotated token
/// coming back still ends the whole login. A thief holding a token gains nothing from the
/// window that the token itself did not already give (whoever presents it first rotates
/// it), and a login that was ended (logout, disabling) is never revived: the grace needs
/// the login to still hold a live token. Auth0's "reuse interval" and Okta's "grace
/// period" for rotating refresh tokens are the same rule.
pub const REFRESH_GRACE: Duration = Duration::from_secs(30);
/// The `iss` and `aud` of every token.
pub const ISSUER: &str = "walkaround";
/// The audience of access tokens.
pub const AUDIENCE: &str = "walkaround-api";
/// Clock skew tolerated on `exp` and `nbf`, seconds.
pub const LEEWAY_SECS: u64 = 5;

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong user name or password (deliberately not saying which).
    #[error("wrong user name or password")]
    BadCredentials,
    /// The token is missing, malformed, expired, or not ours.
    #[error("invalid or expired token: {0}")]
    BadToken(String),
    /// The login was revoked or the user disabled.
    #[error("the session has ended; log in again")]
    Revoked,
    /// Hashing failed (a bug or resource exhaustion).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The user or login could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Always [`ISSUER`].
    pub iss: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// The login (refresh-token family) this token belongs to.
    pub sid: String,
}

/// Signing and verification keys, and the pinned validation rules.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    /// Keys from the shared secret.
    pub fn new(secret: &[u8]) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A fresh access token for `user_id` in login `sid`, and its expiry (seconds).
    pub fn issue(&self, user_id: &str, sid: &str, now: i64) -> Result<(String, i64), AuthError> {
        let exp = now + ACCESS_TTL.as_secs() as i64;
        let claims = Claims {
            sub: user_id.to_string(),
            exp,
            iat: now,
            nbf: now,
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            sid: sid.to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::BadToken(e.to_string()))?;
        Ok((token, exp))
    }

    /// Verifies an access token: signature, algorithm, expiry, issuer, audience.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::BadToken(e.to_string()))
    }
}

/// 32 random bytes as hex: refresh tokens, login ids, signing secrets.
pub fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// How a refresh token is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Most password hashes (argon2id) computed at once in this process. Each holds 19 MiB of
/// memory while it runs (the `argon2` crate's default cost, OWASP's recommendation) and a
/// core for tens of milliseconds, so a burst of logins, or a flood under many user names
/// (the login limit counts per name and per address, not in all), would otherwise take
/// 19 MiB per request in flight. Beyond this they wait their turn in [`password_work`].
pub const MAX_PASSWORD_HASHES: usize = 2;

static PASSWORD_WORK: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_PASSWORD_HASHES);

/// Runs `work` (hashing or verifying a password) on a blocking thread, at most
/// [`MAX_PASSWORD_HASHES`] at once. The turn belongs to the blocking thread: a request
/// abandoned while its hash runs (its client gone) does not hand the turn on before the
/// hash ends. Errors only if the blocking thread failed.
pub async fn password_work<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AuthError> {
    let turn = PASSWORD_WORK
        .acquire()
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        work()
    })
    .await
    .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Hashes a password with argon2id (CPU-heavy: call through [`password_work`]).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Checks a password against its stored hash (CPU-heavy: call through [`password_work`]).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse").expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    /// The tests of `password_work` share its one limit, so they run one at a time.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_work_runs_at_most_its_limit_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let _serial = SERIAL.lock().await;
        let all = (0..4 * MAX_PASSWORD_HASHES).map(|_| {
            tokio::spawn(password_work(|| {
                let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                MOST.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(30));
                RUNNING.fetch_sub(1, Ordering::SeqCst);
            }))
        });
        for task in all.collect::<Vec<_>>() {
            task.await.expect("joins").expect("runs");
        }
        assert_eq!(MOST.load(Ordering::SeqCst), MAX_PASSWORD_HASHES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_request_keeps_its_turn_until_its_hash_ends() {
        let _serial = SERIAL.lock().await;
        let (started, on_start) = std::sync::mpsc::channel();
        let (finish, on_finish) = std::sync::mpsc::channel::<()>();
        let request = tokio::spawn(password_work(move || {
            let _ = started.send(());
            let _ = on_finish.recv();
        }));
        tokio::task::spawn_blocking(move || on_start.recv())
            .await
            .expect("joins")
            .expect("the hash started");
        // The client goes away: its request is dropped while the hash still runs.
        request.abort();
        let _ = request.await;
        assert_eq!(
            PASSWORD_WORK.available_permits(),
            MAX_PASSWORD_HASHES - 1,
            "the running hash still holds its turn"
        );
        finish.send(()).expect("the hash is waiting");
        for _ in 0..500 {
            if PASSWORD_WORK.available_permits() == MAX_PASSWORD_HASHES {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the turn came back when the hash ended");
    }

    #[test]
    fn a_token_verifies_with_its_keys_and_not_with_others() {
        let keys = Keys::new(b"secret-one");
        let now = chrono::Utc::now().timestamp();
        let (token, exp) = keys.issue("u1", "s1", now).expect("issues");
        let claims = keys.verify(&token).expect("verifies");
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str(), claims.exp),
            ("u1", "s1", exp)
        );
        assert!(Keys::new(b"secret-two").verify(&token).is_err());
        let (old, _) = keys.issue("u1", "s1", now - 3600).expect("issues");
        assert!(keys.verify(&old).is_err(), "expired");
    }
}
