//! Store errors.

use std::path::PathBuf;

use thiserror::Error;

/// Why the sync state could not be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another store in this one) has the state open.
    #[error("the sync state {path} is in use by another process")]
    InUse {
        /// The state file.
        path: PathBuf,
    },
    /// The file is not a calbridge state file, or is damaged.
    #[error("the sync state {path} is corrupt or not a calbridge state file: {reason}")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The file was written by a newer calbridge.
    #[error(
        "the sync state {path} has schema version {found}; this calbridge understands up to {supported}"
    )]
    NewerSchema {
        /// The state file.
        path: PathBuf,
        /// The file's schema version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A row holds a value that cannot be decoded.
    #[error("sync state row {what} is unreadable: {reason}")]
    BadRow {
        /// Which row.
        what: String,
        /// Why.
        reason: String,
    },
    /// The database reported an error (disk full, I/O error, …).
    #[error("sync state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file-system error.
    #[error("sync state file error at {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}
