//! Fault injection for the in-memory provider: failures that real services produce
//! (throttling, 5xx, expired cursors, dropped connections), scripted so tests are exact.

use std::time::Duration;

use crate::ProviderError;

/// An error an injected fault produces. [`ProviderError`] is not `Clone` (it may carry a
/// boxed source), so faults hold this small description and convert it when they fire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultError {
    /// [`ProviderError::Transient`].
    Transient,
    /// [`ProviderError::Throttled`] with the given `retry_after`.
    Throttled(Option<Duration>),
    /// [`ProviderError::Auth`].
    Auth,
    /// [`ProviderError::Permanent`].
    Permanent,
    /// [`ProviderError::InvalidData`] naming the field.
    InvalidData(String),
}

impl From<FaultError> for ProviderError {
    fn from(error: FaultError) -> Self {
        const MESSAGE: &str = "injected fault";
        match error {
            FaultError::Transient => Self::transient(MESSAGE),
            FaultError::Throttled(retry_after) => Self::Throttled {
                retry_after,
                message: MESSAGE.to_owned(),
            },
            FaultError::Auth => Self::Auth {
                message: MESSAGE.to_owned(),
            },
            FaultError::Permanent => Self::permanent(MESSAGE),
            FaultError::InvalidData(field) => Self::InvalidData {
                field,
                message: MESSAGE.to_owned(),
            },
        }
    }
}

/// A scripted failure of an [`InMemoryProvider`](crate::InMemoryProvider), set with
/// [`InMemoryProvider::inject`](crate::InMemoryProvider::inject).
///
/// "Trait calls" are `list`, `changes`, `get`, `get_many` and `apply`; faults never affect the user
/// simulation methods (`seed`, `user_edit`, …), which stand for edits made in the calendar's
/// own user interface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The `call`-th trait call from now (1 = the next one) fails with `error`; a failed
    /// `apply` fails every write of the call without applying any.
    FailCall {
        /// Which call, counted from the injection, starting at 1.
        call: u64,
        /// The error it fails with.
        error: FaultError,
    },
    /// The `call`-th trait call from now is throttled: [`ProviderError::Throttled`] with
    /// `retry_after`.
    Throttle {
        /// Which call, counted from the injection, starting at 1.
        call: u64,
        /// The wait the "service" asks for.
        retry_after: Duration,
    },
    /// Writes whose target id (update, delete) or idempotency key (create) equals
    /// `id_or_key` fail with `error`, `times` times; later ones succeed.
    FailItem {
        /// The id or idempotency key.
        id_or_key: String,
        /// The error.
        error: FaultError,
        /// How many attempts fail.
        times: u32,
    },
    /// Every cursor issued so far expires: `changes` answers
    /// [`ProviderError::CursorExpired`] for it. Takes effect when injected; cursors issued
    /// later are valid.
    ExpireCursors,
    /// Every trait call fails with `error` until
    /// [`InMemoryProvider::clear_faults`](crate::InMemoryProvider::clear_faults).
    FailAllCalls {
        /// The error.
        error: FaultError,
    },
}

/// Faults waiting to fire.
#[derive(Debug, Default)]
pub(super) struct Faults {
    /// Trait calls made so far (faults aim at absolute call numbers).
    calls: u64,
    /// `(absolute call number, error)` for `FailCall` and `Throttle`.
    at_call: Vec<(u64, FaultError)>,
    /// `(id or key, error, remaining failures)`.
    items: Vec<(String, FaultError, u32)>,
    /// The error of `FailAllCalls`, when set.
    all_calls: Option<FaultError>,
    /// Successful writes left before a simulated dropped connection.
    crash_after: Option<u64>,
}

impl Faults {
    /// Records a fault. `ExpireCursors` is handled by the caller (it acts on the history).
    pub(super) fn add(&mut self, fault: Fault) {
        match fault {
            Fault::FailCall { call, error } => {
                self.at_call.push((self.calls.saturating_add(call), error));
            }
            Fault::Throttle { call, retry_after } => self.at_call.push((
                self.calls.saturating_add(call),
                FaultError::Throttled(Some(retry_after)),
            )),
            Fault::FailItem {
                id_or_key,
                error,
                times,
            } => {
                if times > 0 {
                    self.items.push((id_or_key, error, times));
                }
            }
            Fault::FailAllCalls { error } => self.all_calls = Some(error),
            Fault::ExpireCursors => {}
        }
    }

    /// Forgets every pending fault (the call count stays, so later faults still count from
    /// their injection).
    pub(super) fn clear(&mut self) {
        let calls = self.calls;
        *self = Self {
            calls,
            ..Self::default()
        };
    }

    /// Counts one trait call and returns the error it must fail with, if any.
    pub(super) fn on_call(&mut self) -> Option<FaultError> {
        self.calls = self.calls.saturating_add(1);
        if let Some(error) = &self.all_calls {
            return Some(error.clone());
        }
        let now = self.calls;
        let pos = self.at_call.iter().position(|(call, _)| *call == now)?;
        let (_, error) = self.at_call.remove(pos);
        // Several faults aimed at the same call: the first injected fires, the others are
        // dropped with it rather than shifting onto later calls.
        self.at_call.retain(|(call, _)| *call != now);
        Some(error)
    }

    /// The error the write targeting `id_or_key` must fail with, if any.
    pub(super) fn on_item(&mut self, id_or_key: &str) -> Option<FaultError> {
        let pos = self.items.iter().position(|(k, _, _)| k == id_or_key)?;
        let entry = &mut self.items[pos];
        let error = entry.1.clone();
        entry.2 -= 1;
        if entry.2 == 0 {
            self.items.remove(pos);
        }
        Some(error)
    }

    /// Arms a dropped connection after `n` more successful writes.
    pub(super) fn crash_after(&mut self, n: u64) {
        self.crash_after = Some(n);
    }

    /// Whether the connection drops before the next write (no successful writes left).
    pub(super) fn crash_due(&self) -> bool {
        self.crash_after == Some(0)
    }

    /// Counts one successful write; `true` when the connection drops right after it.
    pub(super) fn on_write_applied(&mut self) -> bool {
        match &mut self.crash_after {
            Some(left) => {
                *left = left.saturating_sub(1);
                *left == 0
            }
            None => false,
        }
    }

    /// Disarms the dropped connection once it happened.
    pub(super) fn crashed(&mut self) {
        self.crash_after = None;
    }
}
