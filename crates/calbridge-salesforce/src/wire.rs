//! The JSON Salesforce sends and receives, and its date/time formats.

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use calbridge_model::ModelError;

use crate::error::ApiError;

/// One page of a `query` / `queryAll` answer. Records stay raw JSON objects: the mapping
/// reads the fields it knows and snap fields by name, and a record that does not map is
/// reported, not a failed page.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage {
    /// Rows in the whole result (unreliable for some objects; informational only).
    #[serde(default)]
    pub total_size: Option<u64>,
    /// Whether this is the last page.
    pub done: bool,
    /// The next page, an instance-relative path (only when `done` is false).
    #[serde(default)]
    pub next_records_url: Option<String>,
    /// The rows.
    #[serde(default)]
    pub records: Vec<Map<String, Value>>,
}

/// One record's outcome in an sObject Collections answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SaveResult {
    /// The record's id (absent for a failed create).
    #[serde(default)]
    pub id: Option<String>,
    /// Whether the record was written.
    #[serde(default)]
    pub success: bool,
    /// Why not.
    #[serde(default)]
    pub errors: Vec<ApiError>,
    /// For upserts: whether a record was created (rather than matched and updated).
    #[serde(default)]
    pub created: Option<bool>,
}

/// The token endpoint's answer: `instance_url` is where every API call goes, `id` names the
/// signed-in user. There is no `expires_in`.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    pub(crate) instance_url: String,
    /// The identity URL, `…/id/<org id>/<user id>`.
    #[serde(default)]
    pub(crate) id: Option<String>,
}

/// An OAuth error object.
#[derive(Debug, Deserialize)]
pub(crate) struct OAuthErrorBody {
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
}

/// `/services/oauth2/userinfo` (only the part calbridge reads).
#[derive(Debug, Deserialize)]
pub(crate) struct UserInfo {
    pub(crate) user_id: String,
}

/// Parses a Salesforce dateTime: `2025-09-24T16:00:00.000+0000` as returned (offset without
/// a colon, which RFC 3339 parsers refuse), and the RFC 3339 forms it accepts on input.
///
/// A leap second (`:60`) is refused: Salesforce never returns one, and it is an instant the
/// Outlook side cannot spell.
///
/// # Errors
/// [`ModelError::Unparsable`] naming `field`.
pub fn parse_datetime(field: &'static str, text: &str) -> Result<DateTime<Utc>, ModelError> {
    let at = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ModelError::unparsable(field, text, "a dateTime like 2025-09-24T16:00:00.000+0000")
        })?;
    if at.nanosecond() >= 1_000_000_000 {
        return Err(ModelError::unparsable(
            field,
            text,
            "a leap second (:60) is not a dateTime Salesforce stores",
        ));
    }
    Ok(at)
}

/// Formats an instant for a dateTime field: UTC with milliseconds and an explicit `Z`
/// (values without an offset have been stored as UTC by accident, see the reference's
/// pitfalls).
#[must_use]
pub fn format_datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a date field (`yyyy-MM-dd`, never with an offset).
///
/// # Errors
/// [`ModelError::Unparsable`] naming `field`.
pub fn parse_date(field: &'static str, text: &str) -> Result<NaiveDate, ModelError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ModelError::unparsable(field, text, "a date like 2025-09-24"))
}

/// Formats a date field.
#[must_use]
pub fn format_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The latest `api-usage=USED/MAX` from a `Sforce-Limit-Info` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    /// Requests counted against the org's allocation in the last 24 hours.
    pub used: u64,
    /// The org's allocation.
    pub max: u64,
}

impl ApiUsage {
    /// Parses a `Sforce-Limit-Info` value such as
    /// `api-usage=18/5000; per-app-api-usage=17/250(appName=x)`.
    #[must_use]
    pub fn parse(header: &str) -> Option<Self> {
        header.split(';').find_map(|part| {
            let value = part.trim().strip_prefix("api-usage=")?;
            let (used, max) = value.split_once('/')?;
            Some(Self {
                used: used.trim().parse().ok()?,
                max: max.trim().parse().ok()?,
            })
        })
    }
}

/// The user id at the end of an identity URL (`https://login.salesforce.com/id/00D…/005…`).
#[must_use]
pub(crate) fn user_from_identity(url: &str) -> Option<calbridge_model::SalesforceId> {
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    calbridge_model::SalesforceId::parse_field("id", last)
        .ok()
        .filter(|id| id.key_prefix() == "005")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_in_every_form_salesforce_uses() {
        let want = "2025-09-24T16:00:00Z".parse::<DateTime<Utc>>().unwrap();
        for text in [
            "2025-09-24T16:00:00.000+0000",
            "2025-09-24T18:00:00.000+0200",
            "2025-09-24T16:00:00Z",
            "2025-09-24T16:00:00.000Z",
            "2025-09-24T17:00:00+01:00",
        ] {
            assert_eq!(
                parse_datetime("StartDateTime", text).unwrap(),
                want,
                "{text}"
            );
        }
        let err = parse_datetime("StartDateTime", "2025-09-24 16:00").unwrap_err();
        assert_eq!(err.field(), "StartDateTime");
        assert_eq!(format_datetime(want), "2025-09-24T16:00:00.000Z");
    }

    /// The Salesforce side of the leap second the `graph_event` fuzz target found.
    #[test]
    fn a_leap_second_is_refused() {
        for text in ["2025-09-24T16:59:60.000+0000", "2025-09-24T16:59:60Z"] {
            let err = parse_datetime("EndDateTime", text).unwrap_err();
            assert_eq!(err.field(), "EndDateTime");
            assert!(err.to_string().contains("leap second"), "{err}");
        }
    }

    #[test]
    fn dates_refuse_offsets() {
        assert!(parse_date("ActivityDate", "2025-09-24").is_ok());
        assert!(parse_date("ActivityDate", "2025-09-24T00:00:00+04:00").is_err());
    }

    #[test]
    fn identity_urls_name_the_user() {
        let url = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P";
        assert_eq!(
            user_from_identity(url).map(|u| u.to_15().to_owned()),
            Some("005x00000012Q9P".to_owned())
        );
        assert_eq!(user_from_identity("https://x/id/00D/001x00000012Q9P"), None);
        assert_eq!(user_from_identity(""), None);
    }

    #[test]
    fn limit_info() {
        assert_eq!(
            ApiUsage::parse("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                max: 5000
            })
        );
        assert_eq!(
            ApiUsage::parse("per-app-api-usage=17/250(appName=x); api-usage=19/5000"),
            Some(ApiUsage {
                used: 19,
                max: 5000
            })
        );
        assert_eq!(ApiUsage::parse("api-usage=x/5000"), None);
        assert_eq!(ApiUsage::parse(""), None);
    }
}
