//! Armed one-shot faults, consulted before any handler runs.

use std::time::Duration;

/// What an armed fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// 429 with `Retry-After`.
    Throttle(Duration),
    /// A 5xx with the transient Graph error body.
    Unavailable(u16),
    /// Close the connection without an HTTP answer.
    Drop,
    /// Wait, then serve normally.
    Slow(Duration),
}

#[derive(Debug)]
struct Armed {
    action: Action,
    remaining: u32,
    path: Option<String>,
}

/// The queue of armed faults.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    armed: Vec<Armed>,
    batch_items: Vec<(Duration, u32)>,
}

impl FaultState {
    /// Arms `action` for the next `times` requests whose path and query contain `path`
    /// (all requests when `None`).
    pub(crate) fn arm(&mut self, action: Action, times: u32, path: Option<String>) {
        if times > 0 {
            self.armed.push(Armed {
                action,
                remaining: times,
                path,
            });
        }
    }

    /// Arms a 429 for the next `times` `$batch` items.
    pub(crate) fn arm_batch_items(&mut self, retry_after: Duration, times: u32) {
        if times > 0 {
            self.batch_items.push((retry_after, times));
        }
    }

    /// The first armed fault that applies to this request, consumed once.
    pub(crate) fn take(&mut self, path_and_query: &str) -> Option<Action> {
        let idx = self
            .armed
            .iter()
            .position(|a| a.path.as_deref().is_none_or(|p| path_and_query.contains(p)))?;
        let slot = &mut self.armed[idx];
        slot.remaining -= 1;
        let action = slot.action.clone();
        if slot.remaining == 0 {
            self.armed.remove(idx);
        }
        Some(action)
    }

    /// A pending batch-item throttle, consumed once.
    pub(crate) fn take_batch_item(&mut self) -> Option<Duration> {
        let slot = self.batch_items.first_mut()?;
        slot.1 -= 1;
        let retry = slot.0;
        if slot.1 == 0 {
            self.batch_items.remove(0);
        }
        Some(retry)
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
        self.batch_items.clear();
    }
}

/// `Retry-After` in whole seconds, never 0 for a non-zero wait.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_in_order_and_run_out() {
        let mut f = FaultState::default();
        f.arm(Action::Unavailable(503), 2, Some("/events".into()));
        f.arm(Action::Drop, 1, None);
        assert_eq!(f.take("/v1.0/me/calendarView"), Some(Action::Drop));
        assert_eq!(f.take("/v1.0/me/events"), Some(Action::Unavailable(503)));
        assert_eq!(f.take("/v1.0/me/events"), Some(Action::Unavailable(503)));
        assert_eq!(f.take("/v1.0/me/events"), None);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
    }
}
