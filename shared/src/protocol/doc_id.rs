//! Document ids as automerge-repo writes them: 16 random bytes in bs58check.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a document id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentIdError {
    /// Not base58, or the checksum does not match.
    #[error("{0:?} is not a bs58check document id")]
    NotBs58Check(String),
    /// Decodes, but not to 16 bytes.
    #[error("{0:?} does not decode to 16 bytes")]
    WrongLength(String),
    /// An `automerge:` URL without an id.
    #[error("{0:?} is not an automerge URL")]
    NotAUrl(String),
}

/// A document id: 16 bytes, shown as bs58check (e.g. `3kXEfxVKivNfLdGyESB61Q87pqST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentId([u8; 16]);

impl DocumentId {
    /// Wraps 16 bytes (from a random source the caller chooses).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses the bs58check form.
    pub fn parse(s: &str) -> Result<Self, DocumentIdError> {
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| DocumentIdError::NotBs58Check(s.to_string()))?;
        let bytes: [u8; 16] = bytes
            .try_into()
            .map_err(|_| DocumentIdError::WrongLength(s.to_string()))?;
        Ok(Self(bytes))
    }

    /// Parses `automerge:<id>`, ignoring a `/path` or `#heads` suffix.
    pub fn from_url(url: &str) -> Result<Self, DocumentIdError> {
        let rest = url
            .strip_prefix("automerge:")
            .ok_or_else(|| DocumentIdError::NotAUrl(url.to_string()))?;
        let end = rest.find(['/', '#']).unwrap_or(rest.len());
        Self::parse(&rest[..end])
    }

    /// `automerge:<id>`.
    pub fn url(&self) -> String {
        format!("automerge:{self}")
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl FromStr for DocumentId {
    type Err = DocumentIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for DocumentId {
    type Error = DocumentIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DocumentId> for String {
    fn from(id: DocumentId) -> String {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_example_parses_and_round_trips() {
        for s in [
            "3kXEfxVKivNfLdGyESB61Q87pqST",
            "jZqqE3Y7wMFfMoKovgWJyMe6fyb",
        ] {
            let id = DocumentId::parse(s).expect("a valid id from the reference");
            assert_eq!(id.to_string(), s);
            assert_eq!(DocumentId::from_url(&format!("automerge:{s}#abc")), Ok(id));
        }
    }

    #[test]
    fn bad_ids_are_refused_with_a_reason() {
        assert!(matches!(
            DocumentId::parse("0OIl"),
            Err(DocumentIdError::NotBs58Check(_))
        ));
        assert!(matches!(
            DocumentId::parse("3kXEfxVKivNfLdGyESB61Q87pqSu"),
            Err(DocumentIdError::NotBs58Check(_))
        ));
        let short = bs58::encode([1u8; 8]).with_check().into_string();
        assert!(matches!(
            DocumentId::parse(&short),
            Err(DocumentIdError::WrongLength(_))
        ));
        assert!(matches!(
            DocumentId::from_url("http://x"),
            Err(DocumentIdError::NotAUrl(_))
        ));
    }
}
