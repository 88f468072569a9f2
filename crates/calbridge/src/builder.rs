//! Building a [`SyncEngine`].

use std::sync::Arc;

use chrono_tz::Tz;

use calbridge_core::SyncSettings;
use calbridge_model::Side;
use calbridge_provider::CalendarProvider;
use calbridge_store::StateStore;

use crate::engine::EngineParts;
use crate::retry::RetryPolicy;
use crate::{Clock, EngineError, SyncEngine, SyncObserver, SystemClock};

/// Builds a [`SyncEngine`].
pub struct SyncEngineBuilder {
    outlook: Arc<dyn CalendarProvider>,
    salesforce: Arc<dyn CalendarProvider>,
    store: Arc<dyn StateStore>,
    settings: SyncSettings,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    observer: Option<Arc<dyn SyncObserver>>,
    jitter_seed: u64,
}

impl std::fmt::Debug for SyncEngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngineBuilder").finish_non_exhaustive()
    }
}

impl SyncEngineBuilder {
    /// The settings (default: [`SyncSettings::default`]).
    #[must_use]
    pub fn settings(mut self, settings: SyncSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How transient failures are retried.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Who hears about progress, failures, conflicts and summaries.
    #[must_use]
    pub fn observer(mut self, observer: impl SyncObserver + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Seeds the retry jitter (for reproducible tests).
    #[must_use]
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = seed;
        self
    }

    /// Checks the settings and builds the engine.
    ///
    /// # Errors
    /// [`EngineError::Settings`] when the settings are invalid;
    /// [`EngineError::Mode`] when a provider is on the wrong side.
    pub fn build(self) -> Result<SyncEngine, EngineError> {
        self.settings.validate()?;
        if self.outlook.side() != Side::Outlook || self.salesforce.side() != Side::Salesforce {
            return Err(EngineError::Mode(
                "the first provider must be Outlook and the second Salesforce",
            ));
        }
        let zone = self.settings.time_zone.unwrap_or_else(local_zone);
        Ok(SyncEngine::from_parts(EngineParts {
            outlook: self.outlook,
            salesforce: self.salesforce,
            store: self.store,
            settings: self.settings,
            zone,
            clock: self.clock,
            retry: self.retry,
            observer: self.observer,
            jitter_seed: self.jitter_seed,
        }))
    }
}

/// The machine's zone, or UTC when it cannot be told (a bare container).
fn local_zone() -> Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse().ok())
        .unwrap_or(Tz::UTC)
}

impl SyncEngine {
    /// Starts building an engine for an Outlook provider, a Salesforce provider and a store.
    pub fn builder(
        outlook: impl CalendarProvider + 'static,
        salesforce: impl CalendarProvider + 'static,
        store: impl StateStore + 'static,
    ) -> SyncEngineBuilder {
        SyncEngineBuilder {
            outlook: Arc::new(outlook),
            salesforce: Arc::new(salesforce),
            store: Arc::new(store),
            settings: SyncSettings::default(),
            clock: Arc::new(SystemClock),
            retry: RetryPolicy::default(),
            observer: None,
            jitter_seed: 0x5eed,
        }
    }
}
