//! Identifiers: the two sides, opaque provider ids and version tags, and Salesforce ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// One of the two calendars calbridge keeps in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The Outlook calendar (Microsoft Graph).
    Outlook,
    /// The Salesforce user's calendar (the `Event` sObject).
    Salesforce,
}

impl Side {
    /// Both sides, Outlook first.
    pub const BOTH: [Self; 2] = [Self::Outlook, Self::Salesforce];

    /// The other side.
    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::Outlook => Self::Salesforce,
            Self::Salesforce => Self::Outlook,
        }
    }

    /// The side's name as used in reports and JSON: `outlook` or `salesforce`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outlook => "outlook",
            Self::Salesforce => "salesforce",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of an event on one side, as that side's API spells it (a Graph immutable id, a
/// Salesforce record id). Opaque to everything but the connector that issued it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(String);

impl ItemId {
    /// Wraps an id.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ItemId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for ItemId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// An opaque version of one item on one side (a Graph `@odata.etag` / `changeKey`, a
/// Salesforce `SystemModstamp`). Equal tags mean the item was not written in between.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionTag(String);

impl VersionTag {
    /// Wraps a version tag.
    #[must_use]
    pub fn new(tag: impl Into<String>) -> Self {
        Self(tag.into())
    }

    /// The tag as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Salesforce record id, always held in its 18-character case-safe form.
///
/// Salesforce ids come in a case-sensitive 15-character form and an 18-character form whose
/// last three characters encode the case of the first fifteen. Both parse; two ids are equal
/// when they name the same record, whichever form they were written in.
///
/// ```
/// use calbridge_model::SalesforceId;
/// let short: SalesforceId = "001A0000006Vm9r".parse().unwrap();
/// let long: SalesforceId = "001A0000006Vm9rIAC".parse().unwrap();
/// assert_eq!(short, long);
/// assert_eq!(short.key_prefix(), "001");
/// assert_eq!(short.as_str(), "001A0000006Vm9rIAC");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SalesforceId([u8; 18]);

const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

impl SalesforceId {
    /// Parses a 15- or 18-character id; `field` names where it came from in any error.
    ///
    /// An 18-character id whose first fifteen characters lost their case (for example after
    /// passing through a case-insensitive system) is repaired from its suffix.
    ///
    /// # Errors
    /// [`ModelError::InvalidSalesforceId`] for a wrong length, a character outside
    /// `[0-9A-Za-z]`, or a suffix that does not match.
    pub fn parse_field(field: &'static str, value: &str) -> Result<Self, ModelError> {
        let invalid = |reason| ModelError::InvalidSalesforceId {
            field,
            value: value.chars().take(64).collect(),
            reason,
        };
        let bytes = value.as_bytes();
        if bytes.len() != 15 && bytes.len() != 18 {
            return Err(invalid("it must be 15 or 18 characters long"));
        }
        if !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return Err(invalid("it may hold only letters and digits"));
        }
        let mut id = [0u8; 18];
        id[..15].copy_from_slice(&bytes[..15]);
        if bytes.len() == 15 {
            let computed = suffix(&id[..15]);
            id[15..].copy_from_slice(&computed);
            return Ok(Self(id));
        }
        let given: [u8; 3] = [
            bytes[15].to_ascii_uppercase(),
            bytes[16].to_ascii_uppercase(),
            bytes[17].to_ascii_uppercase(),
        ];
        if suffix(&id[..15]) == given {
            id[15..].copy_from_slice(&given);
            return Ok(Self(id));
        }
        // Restore the case of the first fifteen characters from the suffix bits.
        for (chunk, code) in given.iter().enumerate() {
            let bits = SUFFIX_ALPHABET
                .iter()
                .position(|c| c == code)
                .ok_or_else(|| invalid("its last three characters are not a valid suffix"))?;
            for bit in 0..5 {
                let c = &mut id[chunk * 5 + bit];
                let upper = bits & (1 << bit) != 0;
                if upper && !c.is_ascii_alphabetic() {
                    return Err(invalid("its suffix does not match its first 15 characters"));
                }
                *c = if upper {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                };
            }
        }
        if suffix(&id[..15]) != given {
            return Err(invalid("its suffix does not match its first 15 characters"));
        }
        id[15..].copy_from_slice(&given);
        Ok(Self(id))
    }

    /// The 18-character form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The case-sensitive 15-character form.
    #[must_use]
    pub fn to_15(&self) -> &str {
        &self.as_str()[..15]
    }

    /// The three-character key prefix naming the object type (`001` account, `003` contact,
    /// `00Q` lead, `006` opportunity, `00U` event, …).
    #[must_use]
    pub fn key_prefix(&self) -> &str {
        &self.as_str()[..3]
    }
}

fn suffix(first15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (chunk, slot) in out.iter_mut().enumerate() {
        let mut bits = 0usize;
        for bit in 0..5 {
            if first15[chunk * 5 + bit].is_ascii_uppercase() {
                bits |= 1 << bit;
            }
        }
        *slot = SUFFIX_ALPHABET[bits];
    }
    out
}

impl FromStr for SalesforceId {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_field("id", s)
    }
}

impl TryFrom<String> for SalesforceId {
    type Error = ModelError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SalesforceId> for String {
    fn from(id: SalesforceId) -> Self {
        id.as_str().to_owned()
    }
}

impl fmt::Display for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifteen_gets_known_suffix() {
        // Documented example pair.
        let id: SalesforceId = "001A0000006Vm9r".parse().unwrap();
        assert_eq!(id.as_str(), "001A0000006Vm9rIAC");
        assert_eq!(id.to_15(), "001A0000006Vm9r");
    }

    #[test]
    fn eighteen_with_lost_case_is_repaired() {
        let id: SalesforceId = "001a0000006vm9riac".parse().unwrap();
        assert_eq!(id.as_str(), "001A0000006Vm9rIAC");
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        for bad in [
            "",
            "001",
            "001A0000006Vm9r!",
            "001A0000006Vm9rZZZ",
            "001A0000006Vm9rIA9",
        ] {
            let err = bad.parse::<SalesforceId>().unwrap_err();
            assert!(
                matches!(err, ModelError::InvalidSalesforceId { field: "id", .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn case_matters_in_fifteen_form() {
        let a: SalesforceId = "001A0000006Vm9r".parse().unwrap();
        let b: SalesforceId = "001A0000006VM9r".parse().unwrap();
        assert_ne!(a, b);
    }
}
