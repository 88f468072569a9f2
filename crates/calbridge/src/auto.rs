//! Automatic sync: run on the schedule, inside the active hours, until told to stop.

use std::future::Future;
use std::pin::pin;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use calbridge_core::Schedule;

use crate::{EngineError, Report, SyncEngine};

/// What one scheduled run ended with.
#[derive(Debug)]
pub struct AutoRun {
    /// The slot the run was scheduled for.
    pub scheduled_for: DateTime<Utc>,
    /// Its report, or why it stopped.
    pub outcome: Result<Report, EngineError>,
}

impl SyncEngine {
    /// Runs a sync at every slot of `schedule` (every N minutes inside the active hours, on
    /// the chosen weekdays, in the user's zone) until `shutdown` completes. A run that fails
    /// is reported to `on_run` and the loop goes on, except after an authentication failure,
    /// which ends the loop (signing in again needs the user). Returns the runs made.
    ///
    /// # Errors
    /// [`EngineError::Settings`] when the schedule is invalid.
    pub async fn run_auto(
        &self,
        schedule: &Schedule,
        shutdown: impl Future<Output = ()>,
        mut on_run: impl FnMut(&AutoRun),
    ) -> Result<usize, EngineError> {
        schedule
            .validate()
            .map_err(calbridge_core::SettingsError::from)?;
        let mut shutdown = pin!(shutdown);
        let mut runs = 0usize;
        loop {
            let now = self.clock().now();
            let Some(next) = schedule.next_run(self.zone(), now) else {
                warn!("the schedule has no next run; stopping");
                return Ok(runs);
            };
            let wait = (next - now).to_std().unwrap_or_default();
            info!(next = %next, "next automatic sync");
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(runs),
                () = self.clock().sleep(wait) => {}
            }
            // A slow clock or a long sleep can overshoot; never run outside active hours.
            if !schedule.is_active(self.zone(), self.clock().now()) {
                continue;
            }
            let outcome = self.sync().await;
            runs += 1;
            let stop = matches!(outcome, Err(EngineError::Auth { .. }));
            on_run(&AutoRun {
                scheduled_for: next,
                outcome,
            });
            if stop {
                return Ok(runs);
            }
        }
    }
}
