//! The provider-neutral calendar model of calbridge.
//!
//! Both connectors translate their API's records into [`Event`]s and back; the reconcile
//! core (`calbridge-core`) compares and merges nothing else. The model is pure data: no I/O,
//! no clock.
//!
//! Key ideas:
//! - an [`Event`] carries the id of the side it was read from ([`ItemId`]) and an opaque
//!   [`VersionTag`];
//! - [`EventTime`] is either a UTC instant range (plus the IANA zone it was created in) or an
//!   all-day date range with an exclusive end;
//! - a [`Body`] is plain text or HTML with its derived text, and knows whether it is rich;
//! - each synced [`Field`] compares on a normalised form, fingerprinted by [`FieldHashes`];
//! - [`SalesforceId`] handles the 15/18-character forms; [`resolve_zone`] maps Graph's
//!   Windows zone names to IANA zones.

mod body;
mod error;
mod event;
mod fingerprint;
mod ids;
mod time;

pub use body::{Body, html_is_rich, html_to_text};
pub use error::ModelError;
pub use event::{
    Event, Field, FieldValue, OUTLOOK_SUBJECT_MAX, RecordLink, Recurrence,
    SALESFORCE_DESCRIPTION_MAX, SALESFORCE_LOCATION_MAX, SALESFORCE_SUBJECT_MAX, Sensitivity,
    ShowAs, SnapFields,
};
pub use fingerprint::{
    FieldHashes, StableBuildHasher, StableHasher, field_fingerprint, normalize_subject,
    normalize_text, pairing_key,
};
pub use ids::{ItemId, SalesforceId, Side, VersionTag};
pub use time::{EventTime, resolve_local, resolve_zone, start_of_day, truncate_to_second};

pub use chrono_tz::Tz;
