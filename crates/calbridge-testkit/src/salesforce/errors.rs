//! Salesforce error shapes: the REST error array (`errorCode`), the per-record collection
//! error (`statusCode`), and the OAuth error object.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// One Salesforce error: a code from the errorCode catalog, its message, and the fields it
/// concerns. Rendered as `errorCode` in REST arrays and as `statusCode` in collection results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SfError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) fields: Vec<String>,
}

impl SfError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.fields.push(field.into());
        self
    }

    /// The element of a collection result's `errors` array.
    pub(crate) fn record_json(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }

    /// The element of a REST error array.
    pub(crate) fn rest_json(&self) -> Value {
        json!({"message": self.message, "errorCode": self.code, "fields": self.fields})
    }

    pub(crate) fn invalid_field(name: &str) -> Self {
        Self::new(
            "INVALID_FIELD",
            format!("No such column '{name}' on sobject of type Event"),
        )
        .with_field(name)
    }

    pub(crate) fn entity_is_deleted() -> Self {
        Self::new("ENTITY_IS_DELETED", "entity is deleted")
    }

    pub(crate) fn invalid_cross_reference() -> Self {
        Self::new("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    }

    pub(crate) fn lock_row(id: &str) -> Self {
        Self::new(
            "UNABLE_TO_LOCK_ROW",
            format!("unable to obtain exclusive access to this record or 1 records: {id}"),
        )
    }

    pub(crate) fn rolled_back() -> Self {
        Self::new(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was using AllOrNone header",
        )
    }
}

/// A REST-level failure: an HTTP status and the error array body.
#[derive(Debug, Clone)]
pub(crate) struct RestError {
    pub(crate) status: StatusCode,
    pub(crate) errors: Vec<SfError>,
    /// Whether to omit `fields` (Salesforce leaves it out of session and limit errors, and the
    /// fixture `error_invalid_session_id_401.json` has none).
    pub(crate) bare: bool,
}

impl RestError {
    pub(crate) fn new(status: StatusCode, error: SfError) -> Self {
        Self {
            status,
            errors: vec![error],
            bare: false,
        }
    }

    pub(crate) fn bad_request(error: SfError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    pub(crate) fn not_found(error: SfError) -> Self {
        Self::new(StatusCode::NOT_FOUND, error)
    }

    /// A 400 with every error of a refused record write.
    pub(crate) fn from_record(errors: Vec<SfError>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            errors,
            bare: false,
        }
    }

    pub(crate) fn bare(status: StatusCode, code: &'static str, message: &str) -> Self {
        Self {
            status,
            errors: vec![SfError::new(code, message)],
            bare: true,
        }
    }

    pub(crate) fn resource_not_found() -> Self {
        Self::bare(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    pub(crate) fn method_not_allowed(method: &str) -> Self {
        Self::bare(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            &format!("HTTP Method '{method}' not allowed. Allowed are GET,PATCH,POST,DELETE"),
        )
    }

    pub(crate) fn json_parse(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            SfError::new("JSON_PARSER_ERROR", detail.to_owned()),
        )
    }

    pub(crate) fn body(&self) -> Value {
        Value::Array(
            self.errors
                .iter()
                .map(|e| {
                    if self.bare {
                        json!({"message": e.message, "errorCode": e.code})
                    } else {
                        e.rest_json()
                    }
                })
                .collect(),
        )
    }
}

/// An OAuth endpoint failure: HTTP 400 (401 for client authentication) with
/// `{"error", "error_description"}`.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) description: String,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    pub(crate) fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}
