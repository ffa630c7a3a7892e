//! A new password, checked against the password rule before it is hashed.
//!
//! The rule is at least [`MIN_PASSWORD_CHARS`] characters, counted as characters rather
//! than bytes (a Chinese passphrase of eight characters is as long as an English one).
//! The command line (`walkaround user add`) and the API (creating and editing a user) both
//! parse through [`Password::parse`], so the rule and its wording exist once. Logging in
//! checks a password against its hash and applies no rule.

use std::fmt;

use super::{AuthError, hash_password};

/// The fewest characters a new password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why a new password is refused. The message completes "the password …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
}

/// A password that follows the rule. Its `Debug` form does not show it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks `s` against the rule and wraps it.
    pub fn parse(s: impl Into<String>) -> Result<Password, PasswordError> {
        let s = s.into();
        if s.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        Ok(Password(s))
    }

    /// Hashes it with argon2id (CPU-heavy: call from a blocking thread).
    pub fn hash(&self) -> Result<String, AuthError> {
        hash_password(&self.0)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::{Password, PasswordError};

    #[test]
    fn a_password_needs_eight_characters_not_bytes() {
        assert_eq!(
            Password::parse("1234567").err(),
            Some(PasswordError::TooShort)
        );
        assert!(Password::parse("12345678").is_ok());
        // Seven Chinese characters are 21 bytes and still too short.
        assert!(Password::parse("安全生产第一条").is_err());
        assert!(Password::parse("安全生产第一条例").is_ok());
    }

    #[test]
    fn the_refusal_completes_a_sentence_about_the_password() {
        assert_eq!(
            PasswordError::TooShort.to_string(),
            "needs at least 8 characters"
        );
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let password = Password::parse("correct horse").expect("long enough");
        assert_eq!(format!("{password:?}"), "Password(..)");
    }
}
