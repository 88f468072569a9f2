//! Typed validation and parsing errors for the model.

use thiserror::Error;

/// Why a value could not become (part of) a canonical [`Event`](crate::Event).
///
/// Every variant names the field or item it is about, so that a report can tell the user
/// exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A timed event ends before it starts, or an all-day event ends on or before its first day.
    #[error("`{field}`: the event ends ({end}) before it starts ({start})")]
    EndBeforeStart {
        /// The field at fault (`time`, `end`, …).
        field: &'static str,
        /// The start as text.
        start: String,
        /// The end as text.
        end: String,
    },
    /// An all-day event whose bounds are not whole dates (for example a Graph all-day event
    /// that does not start at midnight).
    #[error("`{field}`: an all-day event must start and end at midnight, got {value}")]
    AllDayNotWholeDays {
        /// The field at fault.
        field: &'static str,
        /// The offending value as text.
        value: String,
    },
    /// A text field is longer than the target allows.
    #[error("`{field}` is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// The field at fault.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A required field is missing or empty.
    #[error("`{field}` is required")]
    Missing {
        /// The missing field.
        field: &'static str,
    },
    /// A Salesforce id that is not 15 or 18 characters of `[0-9A-Za-z]` with a valid suffix.
    #[error("`{field}`: {value:?} is not a valid Salesforce id: {reason}")]
    InvalidSalesforceId {
        /// The field at fault (`WhatId`, `Id`, …).
        field: &'static str,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A Salesforce id whose key prefix is not allowed where it is used.
    #[error("`{field}`: {value} has key prefix {prefix}, which is not allowed here")]
    WrongKeyPrefix {
        /// The field at fault.
        field: &'static str,
        /// The id.
        value: String,
        /// Its key prefix.
        prefix: String,
    },
    /// A time-zone name that is neither an IANA zone nor a known Windows zone name.
    #[error("`{field}`: unknown time zone {name:?}")]
    UnknownTimeZone {
        /// The field at fault (`start.timeZone`, `time_zone`, …).
        field: &'static str,
        /// The name as received.
        name: String,
    },
    /// A date or time outside the range the model supports.
    #[error("`{field}`: {value} is outside the supported range")]
    OutOfRange {
        /// The field at fault.
        field: &'static str,
        /// The offending value as text.
        value: String,
    },
    /// A value that could not be parsed.
    #[error("`{field}`: cannot parse {value:?}: {reason}")]
    Unparsable {
        /// The field at fault.
        field: &'static str,
        /// The value (truncated to 64 characters).
        value: String,
        /// What was expected.
        reason: String,
    },
}

impl ModelError {
    /// The name of the field this error is about.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            Self::EndBeforeStart { field, .. }
            | Self::AllDayNotWholeDays { field, .. }
            | Self::TooLong { field, .. }
            | Self::Missing { field }
            | Self::InvalidSalesforceId { field, .. }
            | Self::WrongKeyPrefix { field, .. }
            | Self::UnknownTimeZone { field, .. }
            | Self::OutOfRange { field, .. }
            | Self::Unparsable { field, .. } => field,
        }
    }

    /// Builds an [`ModelError::Unparsable`] whose value is cut to 64 characters, so that a
    /// huge hostile value never ends up whole in a report.
    #[must_use]
    pub fn unparsable(field: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::Unparsable {
            field,
            value: value.chars().take(64).collect(),
            reason: reason.into(),
        }
    }
}
