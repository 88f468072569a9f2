//! Errors that stop a run.

use thiserror::Error;

use calbridge_core::SettingsError;
use calbridge_model::{ItemId, Side};
use calbridge_provider::ProviderError;
use calbridge_store::StoreError;

impl EngineError {
    /// The error for a failed read of `side`: an authentication failure stops the run as
    /// such, anything else is a read failure.
    pub(crate) fn reading(side: Side, source: ProviderError) -> Self {
        match source.kind() {
            calbridge_provider::ErrorKind::Auth => Self::Auth { side, source },
            _ => Self::Read { side, source },
        }
    }
}

/// Why a run (or an engine call) stopped. Per-item failures do not stop a run; they are in
/// the [`Report`](crate::Report).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A side refused our credentials; nothing more was written. Sign in again.
    #[error("{side}: authentication needed")]
    Auth {
        /// The side.
        side: Side,
        /// What the provider said.
        #[source]
        source: ProviderError,
    },
    /// A side could not be read, even after retries.
    #[error("{side}: the calendar could not be read")]
    Read {
        /// The side.
        side: Side,
        /// The last error.
        #[source]
        source: ProviderError,
    },
    /// The sync state could not be read or written; the run stopped where it was, and every
    /// write recorded so far is safe.
    #[error("sync state: {0}")]
    Store(#[from] StoreError),
    /// The settings are not usable.
    #[error("settings: {0}")]
    Settings(#[from] SettingsError),
    /// An item named in a call does not exist.
    #[error("{side} event {id} not found")]
    NotFound {
        /// The side.
        side: Side,
        /// The id.
        id: ItemId,
    },
    /// A write made on the user's behalf (relate) failed.
    #[error("{side} event {id} could not be written")]
    Write {
        /// The side.
        side: Side,
        /// The id.
        id: ItemId,
        /// The error.
        #[source]
        source: ProviderError,
    },
    /// The engine is in SnapRecord-less mode where a SnapRecord call was made, or similar.
    #[error("{0}")]
    Mode(&'static str),
}
