//! Fault injection: what can go wrong between a connector and Salesforce, switched on by
//! tests and consumed request by request before the stateful handler runs.

use std::time::Duration;

/// A fault to inject with [`SalesforceEmulator::inject`](super::SalesforceEmulator::inject).
///
/// Counted faults fire on the next `times` matching requests, then disarm. Unless a variant
/// says otherwise they match only the REST data API (`/services/data/vNN.N/...`), never the
/// OAuth endpoints, so a connector's token refresh is not what trips them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SalesforceFault {
    /// `403 [{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]`:
    /// the org's daily allocation is used up. Not an auth error: clients must not refresh.
    RequestLimitExceeded {
        /// How many requests fail.
        times: u32,
    },
    /// `503` with an error array (`SERVER_UNAVAILABLE`), as during maintenance or overload.
    Unavailable {
        /// How many requests fail.
        times: u32,
    },
    /// Writes touching the record with this id (15 or 18 characters) fail with
    /// `UNABLE_TO_LOCK_ROW`: inside a collection only that record fails; a single-record
    /// PATCH/DELETE answers 400. Each failed attempt uses one of `times`.
    LockRow {
        /// The locked record.
        id: String,
        /// How many write attempts on it fail.
        times: u32,
    },
    /// The server closes the connection without sending any HTTP answer, before doing
    /// anything. With `path`, only requests whose path contains it are dropped, and then the
    /// OAuth endpoints match too.
    DropConnection {
        /// How many requests are dropped.
        times: u32,
        /// Substring the request path must contain.
        path: Option<String>,
    },
    /// The next `times` writes (POST/PATCH/DELETE on the data API, collections included) are
    /// applied, then the connection is closed without an answer: the client cannot know its
    /// write landed.
    DropAfterWrite {
        /// How many writes are dropped after being applied.
        times: u32,
    },
    /// The next `times` requests (any path) are delayed by `delay` before being handled.
    Slow {
        /// Added latency.
        delay: Duration,
        /// How many requests are delayed.
        times: u32,
    },
    /// Every access token issued so far stops working now (`401 INVALID_SESSION_ID`);
    /// refresh tokens keep working.
    ExpireSessions,
    /// Every open query cursor is forgotten now; following a `nextRecordsUrl` answers
    /// `400 INVALID_QUERY_LOCATOR`.
    ExpireQueryLocators,
}

/// What the request-level faults decided for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) delay: Option<Duration>,
    pub(crate) action: Option<Action>,
    pub(crate) drop_after_write: bool,
}

/// A fault that replaces the normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    LimitExceeded,
    Unavailable,
    Drop,
}

/// The armed faults, in injection order.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Vec<SalesforceFault>,
}

fn times_mut(fault: &mut SalesforceFault) -> Option<&mut u32> {
    match fault {
        SalesforceFault::RequestLimitExceeded { times }
        | SalesforceFault::Unavailable { times }
        | SalesforceFault::LockRow { times, .. }
        | SalesforceFault::DropConnection { times, .. }
        | SalesforceFault::DropAfterWrite { times }
        | SalesforceFault::Slow { times, .. } => Some(times),
        SalesforceFault::ExpireSessions | SalesforceFault::ExpireQueryLocators => None,
    }
}

impl Faults {
    /// Arms a counted fault (immediate ones are handled by the emulator and never stored).
    pub(crate) fn arm(&mut self, fault: SalesforceFault) {
        let mut fault = fault;
        if let SalesforceFault::LockRow { id, .. } = &mut fault
            && let Some(long) = super::ids::salesforce_id_18(id)
        {
            *id = long;
        }
        if times_mut(&mut fault).is_some_and(|t| *t > 0) {
            self.armed.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    /// Uses one firing of the first armed fault `pick` selects, if any.
    fn consume<T>(&mut self, mut pick: impl FnMut(&SalesforceFault) -> Option<T>) -> Option<T> {
        let pos = self.armed.iter().position(|f| pick(f).is_some())?;
        let out = pick(&self.armed[pos]);
        let exhausted = times_mut(&mut self.armed[pos]).is_none_or(|t| {
            *t = t.saturating_sub(1);
            *t == 0
        });
        if exhausted {
            self.armed.remove(pos);
        }
        out
    }

    /// Decides the fate of one request.
    pub(crate) fn plan(&mut self, path: &str, is_data: bool, is_write: bool) -> Plan {
        let delay = self.consume(|f| match f {
            SalesforceFault::Slow { delay, .. } => Some(*delay),
            _ => None,
        });
        let action = self.consume(|f| match f {
            SalesforceFault::RequestLimitExceeded { .. } if is_data => Some(Action::LimitExceeded),
            SalesforceFault::Unavailable { .. } if is_data => Some(Action::Unavailable),
            SalesforceFault::DropConnection { path: None, .. } if is_data => Some(Action::Drop),
            SalesforceFault::DropConnection { path: Some(p), .. } if path.contains(p.as_str()) => {
                Some(Action::Drop)
            }
            _ => None,
        });
        let drop_after_write = action.is_none()
            && is_data
            && is_write
            && self
                .consume(|f| matches!(f, SalesforceFault::DropAfterWrite { .. }).then_some(()))
                .is_some();
        Plan {
            delay,
            action,
            drop_after_write,
        }
    }

    /// Whether a write to `id18` hits an armed row lock (using one firing if so).
    pub(crate) fn lock_hit(&mut self, id18: &str) -> bool {
        self.consume(|f| match f {
            SalesforceFault::LockRow { id, .. } if id == id18 => Some(()),
            _ => None,
        })
        .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_disarm() {
        let mut f = Faults::default();
        f.arm(SalesforceFault::Unavailable { times: 2 });
        f.arm(SalesforceFault::DropConnection {
            times: 1,
            path: Some("/oauth2/token".into()),
        });
        assert_eq!(
            f.plan("/services/oauth2/token", false, true).action,
            Some(Action::Drop)
        );
        assert_eq!(f.plan("/services/oauth2/token", false, true).action, None);
        assert_eq!(
            f.plan("/services/data/v62.0/query", true, false).action,
            Some(Action::Unavailable)
        );
        assert_eq!(
            f.plan("/services/data/v62.0/query", true, false).action,
            Some(Action::Unavailable)
        );
        assert_eq!(
            f.plan("/services/data/v62.0/query", true, false),
            Plan::default()
        );
    }

    #[test]
    fn lock_row_matches_fifteen_char_ids() {
        let mut f = Faults::default();
        f.arm(SalesforceFault::LockRow {
            id: "001A0000006Vm9r".into(),
            times: 1,
        });
        assert!(!f.lock_hit("001A0000006Vm9rIAD"));
        assert!(f.lock_hit("001A0000006Vm9rIAC"));
        assert!(!f.lock_hit("001A0000006Vm9rIAC"));
    }
}
