//! Identifiers of sites, areas, users, templates, items, rules and inspections.
//!
//! Each id is a newtype that can only be built through `parse`, so an invalid id cannot
//! exist past the edge where text enters the system. The alphabet is deliberately small
//! (ASCII letters, digits, `-`, `_`, `.`): ids appear in document keys, URLs and SQL, and
//! the `@` that joins an item id to an area id in an answer key can never occur inside one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which kind of id was being parsed.
        kind: &'static str,
    },
    /// The string was longer than [`MAX_ID_LEN`].
    #[error("{kind} is longer than {MAX_ID_LEN} characters")]
    TooLong {
        /// Which kind of id was being parsed.
        kind: &'static str,
    },
    /// The string held a character outside the id alphabet.
    #[error("{kind} may only contain ASCII letters, digits, '-', '_' and '.', found {found:?}")]
    BadChar {
        /// Which kind of id was being parsed.
        kind: &'static str,
        /// The first offending character.
        found: char,
    },
}

fn check(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind });
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(IdError::BadChar { kind, found });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check($kind, &s)?;
                Ok(Self(s))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A workshop site (one dealership's after-sales workshop).
    SiteId,
    "site id"
);
id_type!(
    /// A bay, room or entrance of a site.
    AreaId,
    "area id"
);
id_type!(
    /// A person who logs in.
    UserId,
    "user id"
);
id_type!(
    /// A checklist template; its versions share the id.
    TemplateId,
    "template id"
);
id_type!(
    /// An item of a template, stable across the template's versions.
    ItemId,
    "item id"
);
id_type!(
    /// An inspection (one run of a checklist); also its document's id.
    InspectionId,
    "inspection id"
);

/// A rule of the regulation, such as `C2`: a section letter A–D and a number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleId(String);

impl RuleId {
    /// Validates `s` (a section letter A–D followed by 1–2 digits) and wraps it.
    pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        let mut chars = s.chars();
        let section_ok = matches!(chars.next(), Some('A'..='D'));
        let digits: String = chars.collect();
        let digits_ok = (1..=2).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if section_ok && digits_ok {
            Ok(Self(s))
        } else if s.is_empty() {
            Err(IdError::Empty { kind: "rule id" })
        } else {
            Err(IdError::BadChar {
                kind: "rule id",
                found: s
                    .chars()
                    .find(|c| !c.is_ascii_alphanumeric())
                    .unwrap_or('?'),
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The section letter, `A` to `D`.
    pub fn section(&self) -> char {
        self.0.chars().next().unwrap_or('?')
    }
}

impl TryFrom<String> for RuleId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl From<RuleId> for String {
    fn from(id: RuleId) -> String {
        id.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_alphabet() {
        assert!(SiteId::parse("site-1.north_A").is_ok());
        assert_eq!(SiteId::parse(""), Err(IdError::Empty { kind: "site id" }));
        assert!(matches!(
            ItemId::parse("c2@bay-1"),
            Err(IdError::BadChar { found: '@', .. })
        ));
        assert!(matches!(
            UserId::parse("x".repeat(65)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let ok: SiteId = serde_json::from_str("\"s1\"").expect("valid id");
        assert_eq!(ok.as_str(), "s1");
        assert!(serde_json::from_str::<SiteId>("\"bad id\"").is_err());
    }

    #[test]
    fn rule_ids_are_a_section_letter_and_a_number() {
        for ok in ["A1", "C9", "D12"] {
            assert!(RuleId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "E1", "C", "C0", "C123", "c2", "C2a"] {
            assert!(RuleId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(RuleId::parse("D12").map(|r| r.section()), Ok('D'));
    }
}
