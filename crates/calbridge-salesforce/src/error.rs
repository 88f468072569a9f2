//! Salesforce errors as [`ProviderError`]s, decided in one place ([`classify`]) for REST
//! error arrays (`errorCode`), collection results (`statusCode`) and bodies that are not
//! JSON at all.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use thiserror::Error;

use calbridge_model::ItemId;
use calbridge_provider::ProviderError;

/// One element of Salesforce's error array. REST resources say `errorCode`, collection
/// results say `statusCode`; both land here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    /// What went wrong, in Salesforce's words.
    #[serde(default)]
    pub message: String,
    /// The code from Salesforce's catalogue (`STRING_TOO_LONG`, `INVALID_SESSION_ID`, …).
    #[serde(default, rename = "errorCode", alias = "statusCode")]
    pub code: String,
    /// The fields the error is about (absent or empty for most non-field errors).
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A builder setting calbridge refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is missing.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// An endpoint that is not https (or http on loopback) or not a URL.
    #[error("`{setting}`: {reason}")]
    Endpoint {
        /// The setting.
        setting: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A field name that is not a Salesforce API name, or one calbridge maps itself.
    #[error("`{setting}`: {name:?} {reason}")]
    FieldName {
        /// The setting (`snap_fields`, `external_id_field`).
        setting: &'static str,
        /// The name (cut to 64 characters).
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An API version not of the form `vNN.N`.
    #[error("API version {0:?} is not of the form vNN.N")]
    ApiVersion(String),
    /// An owner id that is not a User (005) or Calendar (023) id.
    #[error("owner {0:?} is not a Salesforce User (005) or Calendar (023) id")]
    Owner(String),
    /// A batch size outside 1..=200.
    #[error("batch size {0} is outside 1..=200")]
    BatchSize(usize),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
    /// A JWT signing key that is not an RSA private key in PEM.
    #[error("the JWT signing key is not an RSA private key in PEM: {0}")]
    SigningKey(String),
}

/// Codes meaning the session (access token) is not accepted.
const SESSION_CODES: [&str; 2] = ["INVALID_SESSION_ID", "INVALID_AUTH_HEADER"];

/// Codes about one field's value: the item is skipped and reported, naming the field.
const FIELD_CODES: [&str; 12] = [
    "STRING_TOO_LONG",
    "INVALID_FIELD",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    "INVALID_CROSS_REFERENCE_KEY",
    "MALFORMED_ID",
    "INVALID_TYPE_ON_FIELD_IN_RECORD",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    "FIELD_INTEGRITY_EXCEPTION",
    "REQUIRED_FIELD_MISSING",
    "INVALID_FIELD_FOR_INSERT_UPDATE",
    "DUPLICATE_VALUE",
    "NUMBER_OUTSIDE_VALID_RANGE",
];

/// Codes that pass on retry.
const TRANSIENT_CODES: [&str; 5] = [
    "UNABLE_TO_LOCK_ROW",
    "SERVER_UNAVAILABLE",
    "QUERY_TIMEOUT",
    // The record itself was fine: another record of an all-or-none request failed.
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    // A query cursor that expired mid-listing; listing again works.
    "INVALID_QUERY_LOCATOR",
];

/// Turns Salesforce's answer into a [`ProviderError`]: the one place where error codes and
/// statuses get their meaning.
///
/// - `status`: the HTTP status, or `None` for a record of a collection result (which comes
///   inside a 200);
/// - `errors`: the parsed error array (empty when the body was not one);
/// - `snippet`: the body's first characters (see `calbridge_http::body_snippet`), quoted when
///   nothing else explains the failure;
/// - `target`: the record the request was about, for `NotFound`;
/// - `retry_after`: the wait the response asked for, if any.
///
/// Never panics, whatever the input.
#[must_use]
pub fn classify(
    status: Option<StatusCode>,
    errors: &[ApiError],
    snippet: &str,
    target: Option<&ItemId>,
    retry_after: Option<Duration>,
) -> ProviderError {
    let first = errors.first();
    let code = first.map_or("", |e| e.code.as_str());
    let message = match first {
        Some(e) if errors.len() > 1 => {
            format!("{}: {} (and {} more)", e.code, e.message, errors.len() - 1)
        }
        Some(e) => format!("{}: {}", e.code, e.message),
        None => match status {
            Some(s) => format!("HTTP {}: {snippet}", s.as_u16()),
            None => format!("a failed record without errors: {snippet}"),
        },
    };
    let field = || match first.and_then(|e| e.fields.first()) {
        Some(field) => field.clone(),
        // A malformed id without a field is the record's own id (collection deletes).
        None if code == "MALFORMED_ID" => "Id".to_owned(),
        None => code.to_owned(),
    };
    let not_found = |message: String| match target {
        Some(id) => ProviderError::NotFound { id: id.clone() },
        None => ProviderError::permanent(message),
    };

    if SESSION_CODES.contains(&code) {
        return ProviderError::Auth { message };
    }
    match code {
        "REQUEST_LIMIT_EXCEEDED" => {
            return ProviderError::Throttled {
                retry_after,
                message,
            };
        }
        "ENTITY_IS_DELETED" => return not_found(message),
        // "Provided external ID field does not exist or is not accessible" is a setup
        // mistake, not a missing record: every create would fail the same way.
        "NOT_FOUND" if message.contains("external ID field") => {
            return ProviderError::permanent(message);
        }
        "NOT_FOUND" => return not_found(message),
        // An unknown id in a write is a missing record; an unknown id in a lookup field
        // (fields = ["WhatId"]) is that field's fault.
        "INVALID_CROSS_REFERENCE_KEY"
            if first.is_some_and(|e| e.fields.is_empty()) && target.is_some() =>
        {
            return not_found(message);
        }
        "API_DISABLED_FOR_ORG" => return ProviderError::Auth { message },
        _ => {}
    }
    if FIELD_CODES.contains(&code) {
        return ProviderError::InvalidData {
            field: field(),
            message,
        };
    }
    if TRANSIENT_CODES.contains(&code) {
        return ProviderError::Transient {
            retry_after,
            message,
            source: None,
        };
    }
    match status.map(|s| s.as_u16()) {
        Some(401) => ProviderError::Auth { message },
        Some(404) => not_found(message),
        Some(409 | 412) => match target {
            Some(id) => ProviderError::Precondition { id: id.clone() },
            None => ProviderError::permanent(message),
        },
        Some(429) => ProviderError::Throttled {
            retry_after,
            message,
        },
        Some(408 | 500..=599) => ProviderError::Transient {
            retry_after,
            message,
            source: None,
        },
        _ => ProviderError::permanent(message),
    }
}

/// Parses a response body as Salesforce's error array (or a single error object), or
/// returns an empty list when it is something else (HTML from a proxy, an empty body).
#[must_use]
pub fn parse_errors(body: &[u8]) -> Vec<ApiError> {
    if let Ok(errors) = serde_json::from_slice::<Vec<ApiError>>(body) {
        return errors;
    }
    match serde_json::from_slice::<ApiError>(body) {
        Ok(error) if !error.code.is_empty() => vec![error],
        _ => Vec::new(),
    }
}

/// A transport failure (no answer, or an unreadable one) as a transient error.
pub(crate) fn transport(what: &str, error: reqwest::Error) -> ProviderError {
    ProviderError::Transient {
        retry_after: None,
        message: format!("{what}: {}", without_url(&error)),
        source: Some(Box::new(error.without_url())),
    }
}

/// The error's text without the URL (URLs can carry SOQL with ids, and query locators).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off or unreadable"
    } else if error.is_request() {
        "the connection failed"
    } else {
        "the request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calbridge_provider::ErrorKind;

    fn err(code: &str, fields: &[&str]) -> ApiError {
        ApiError {
            message: format!("{code} happened"),
            code: code.to_owned(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    fn kind(status: Option<u16>, errors: &[ApiError]) -> ErrorKind {
        let id = ItemId::new("00U000000000001AAA");
        classify(
            status.and_then(|s| StatusCode::from_u16(s).ok()),
            errors,
            "",
            Some(&id),
            None,
        )
        .kind()
    }

    #[test]
    fn codes_map_to_kinds() {
        let cases = [
            (Some(401), "INVALID_SESSION_ID", &[][..], ErrorKind::Auth),
            (
                Some(403),
                "REQUEST_LIMIT_EXCEEDED",
                &[],
                ErrorKind::Throttled,
            ),
            (None, "UNABLE_TO_LOCK_ROW", &[], ErrorKind::Transient),
            (Some(500), "UNABLE_TO_LOCK_ROW", &[], ErrorKind::Transient),
            (Some(404), "ENTITY_IS_DELETED", &[], ErrorKind::NotFound),
            (Some(404), "NOT_FOUND", &[], ErrorKind::NotFound),
            (
                None,
                "INVALID_CROSS_REFERENCE_KEY",
                &[],
                ErrorKind::NotFound,
            ),
            (
                None,
                "INVALID_CROSS_REFERENCE_KEY",
                &["WhatId"],
                ErrorKind::InvalidData,
            ),
            (
                None,
                "STRING_TOO_LONG",
                &["Subject"],
                ErrorKind::InvalidData,
            ),
            (None, "INVALID_FIELD", &[], ErrorKind::InvalidData),
            (
                None,
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                &[],
                ErrorKind::InvalidData,
            ),
            (None, "MALFORMED_ID", &["WhoId"], ErrorKind::InvalidData),
            (
                None,
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                &["Score__c"],
                ErrorKind::InvalidData,
            ),
            (
                None,
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                &[],
                ErrorKind::Transient,
            ),
            (None, "DUPLICATES_DETECTED", &[], ErrorKind::Permanent),
        ];
        for (status, code, fields, want) in cases {
            assert_eq!(
                kind(status, &[err(code, fields)]),
                want,
                "{code} {fields:?}"
            );
        }
    }

    #[test]
    fn field_errors_name_the_field() {
        let e = classify(
            None,
            &[err("STRING_TOO_LONG", &["Subject"])],
            "",
            None,
            None,
        );
        assert!(matches!(e, ProviderError::InvalidData { ref field, .. } if field == "Subject"));
        // No field given: the code stands in, so the report still says something precise.
        let e = classify(None, &[err("INVALID_FIELD", &[])], "", None, None);
        assert!(
            matches!(e, ProviderError::InvalidData { ref field, .. } if field == "INVALID_FIELD")
        );
    }

    #[test]
    fn statuses_without_a_known_code() {
        assert_eq!(kind(Some(503), &[]), ErrorKind::Transient);
        assert_eq!(kind(Some(502), &[]), ErrorKind::Transient);
        assert_eq!(kind(Some(401), &[]), ErrorKind::Auth);
        assert_eq!(kind(Some(418), &[]), ErrorKind::Permanent);
        assert_eq!(kind(Some(300), &[]), ErrorKind::Permanent);
        assert_eq!(kind(Some(412), &[]), ErrorKind::Precondition);
    }

    #[test]
    fn missing_external_id_field_is_not_a_missing_record() {
        let mut e = err("NOT_FOUND", &[]);
        e.message = "Provided external ID field does not exist or is not accessible: X__c".into();
        assert_eq!(kind(Some(404), &[e]), ErrorKind::Permanent);
    }

    #[test]
    fn unexpected_bodies_are_typed_errors_quoting_the_snippet() {
        for body in [
            &b"<html>maintenance</html>"[..],
            b"",
            b"{\"a\":1}",
            b"[1,2]",
            b"\xff\xfe",
        ] {
            let errors = parse_errors(body);
            assert!(errors.is_empty());
            let snippet = calbridge_http::body_snippet(body);
            let e = classify(
                StatusCode::from_u16(502).ok(),
                &errors,
                &snippet,
                None,
                None,
            );
            assert!(e.to_string().contains("502"), "{e}");
        }
        let e = classify(None, &[], "{}", None, None);
        assert_eq!(e.kind(), ErrorKind::Permanent);
    }

    #[test]
    fn both_error_shapes_parse() {
        let rest = parse_errors(
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        );
        assert_eq!(rest[0].code, "INVALID_SESSION_ID");
        let record = parse_errors(
            br#"[{"statusCode":"STRING_TOO_LONG","message":"x","fields":["Subject"]}]"#,
        );
        assert_eq!(record[0].fields, ["Subject"]);
    }
}
