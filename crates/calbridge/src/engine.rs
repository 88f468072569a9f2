//! The sync engine: fetch → plan → (preview | apply) → record.

use std::sync::Arc;

use chrono_tz::Tz;
use tracing::{Instrument, info, info_span};

use calbridge_core::{Plan, Planner, Snapshot, StateChange, SyncSettings, SyncState};
use calbridge_model::{FieldValue, ItemId, RecordLink, Side, SnapFields};
use calbridge_provider::{CalendarProvider, ListWindow, Write};
use calbridge_store::{RunRecord, StateStore};

use crate::apply::{Applier, Stale};
use crate::fetch::{SideRead, confirm_linked, read_side, with_retry};
use crate::report::{Notify, Report};
use crate::retry::{Jitter, RetryPolicy};
use crate::{Clock, EngineError, SyncObserver};

/// Options for one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// The user confirmed any mass delete: the delete guard does not hold this run.
    pub confirm_deletes: bool,
    /// The user confirmed the deletion of exactly these items (the
    /// [`ids`](calbridge_core::GuardTrip::ids) of the trips a held run reported): those
    /// deletes go ahead, and any delete the user was not shown is still guarded.
    pub confirmed_deletes: Vec<ItemId>,
}

/// A preview: the plan a sync would carry out, and its report.
#[derive(Debug)]
pub struct Preview {
    /// The plan.
    pub plan: Plan,
    /// What the run would do, counted.
    pub report: Report,
}

/// Keeps one Outlook calendar and one Salesforce calendar in step.
///
/// ```no_run
/// # async fn demo() -> Result<(), calbridge::EngineError> {
/// use std::sync::Arc;
/// use calbridge::{SyncEngine, SyncSettings};
/// use calbridge::provider::InMemoryProvider;
/// use calbridge::store::SqliteStore;
/// use calbridge::model::Side;
///
/// let engine = SyncEngine::builder(
///     InMemoryProvider::new(Side::Outlook),
///     InMemoryProvider::new(Side::Salesforce),
///     SqliteStore::open("calbridge-state.sqlite")?,
/// )
/// .settings(SyncSettings::default())
/// .build()?;
/// let preview = engine.preview().await?;
/// println!("{}", preview.report);
/// let report = engine.sync().await?;
/// println!("{report}");
/// # Ok(()) }
/// ```
pub struct SyncEngine {
    outlook: Arc<dyn CalendarProvider>,
    salesforce: Arc<dyn CalendarProvider>,
    store: Arc<dyn StateStore>,
    settings: SyncSettings,
    zone: Tz,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    observer: Option<Arc<dyn SyncObserver>>,
    jitter_seed: u64,
    /// The stored state as of the last run, kept so a run need not read every pair from
    /// the store again. The store's lock makes this process its only writer; the copy is
    /// dropped (and read again) whenever a run fails part-way.
    state: tokio::sync::Mutex<Option<SyncState>>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("outlook", &self.outlook)
            .field("salesforce", &self.salesforce)
            .field("store", &self.store)
            .field("zone", &self.zone)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Everything an engine is made of, as the builder assembles it.
pub(crate) struct EngineParts {
    pub(crate) outlook: Arc<dyn CalendarProvider>,
    pub(crate) salesforce: Arc<dyn CalendarProvider>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) settings: SyncSettings,
    pub(crate) zone: Tz,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) retry: RetryPolicy,
    pub(crate) observer: Option<Arc<dyn SyncObserver>>,
    pub(crate) jitter_seed: u64,
}

impl SyncEngine {
    pub(crate) fn from_parts(p: EngineParts) -> Self {
        Self {
            state: tokio::sync::Mutex::new(None),
            outlook: p.outlook,
            salesforce: p.salesforce,
            store: p.store,
            settings: p.settings,
            zone: p.zone,
            clock: p.clock,
            retry: p.retry,
            observer: p.observer,
            jitter_seed: p.jitter_seed,
        }
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    /// The user's zone (the settings' or the machine's).
    #[must_use]
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The clock the engine uses.
    #[must_use]
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The state store.
    #[must_use]
    pub fn store(&self) -> &dyn StateStore {
        &*self.store
    }

    fn providers(&self) -> [&dyn CalendarProvider; 2] {
        [&*self.outlook, &*self.salesforce]
    }

    fn notify(&self) -> Notify<'_> {
        Notify {
            observer: self.observer.as_deref(),
            settings: self.settings.notifications,
        }
    }

    fn planner(&self, options: &SyncOptions) -> Planner<'_> {
        Planner::new(&self.settings)
            .zone(self.zone)
            .confirm_deletes(options.confirm_deletes)
            .confirm_only(options.confirmed_deletes.iter().cloned())
    }

    /// Reads both sides and plans, writing nothing. The recommended first run.
    ///
    /// # Errors
    /// [`EngineError`] when a side cannot be read or the state cannot be loaded.
    pub async fn preview(&self) -> Result<Preview, EngineError> {
        let started = self.clock.now();
        let before = self.providers().map(|p| p.requests());
        let mut jitter = Jitter::new(self.jitter_seed ^ started.timestamp() as u64);
        let mut cached = self.state.lock().await;
        let state = match cached.take() {
            Some(state) => state,
            None => self.store.load().await?,
        };
        let planned = self
            .read_and_plan(SyncOptions::default(), &state, &mut jitter)
            .await;
        *cached = Some(state);
        let (plan, reads) = planned?;
        let mut report = Report::new(started, true);
        report.absorb_plan(&plan);
        for op in &plan.operations {
            let counts = report.side_mut(op.target);
            match op.action {
                calbridge_core::Action::Create { .. } => counts.created += 1,
                calbridge_core::Action::Update { .. } => counts.updated += 1,
                calbridge_core::Action::Delete { .. } => counts.deleted += 1,
            }
        }
        self.finish_counts(&mut report, &reads, before);
        Ok(Preview { plan, report })
    }

    /// Plans and applies a sync.
    ///
    /// # Errors
    /// [`EngineError::Auth`] when a side refuses our credentials (the run stops; every
    /// write recorded so far is safe); [`EngineError::Read`] and [`EngineError::Store`].
    /// Per-item failures do not fail the run: they are in the report.
    pub async fn sync(&self) -> Result<Report, EngineError> {
        self.sync_with(SyncOptions::default()).await
    }

    /// [`SyncEngine::sync`] with options (such as confirming a mass delete).
    ///
    /// # Errors
    /// As [`SyncEngine::sync`].
    pub async fn sync_with(&self, options: SyncOptions) -> Result<Report, EngineError> {
        let started = self.clock.now();
        let span = info_span!("sync", started = %started);
        self.run(options, started).instrument(span).await
    }

    async fn run(
        &self,
        options: SyncOptions,
        started: chrono::DateTime<chrono::Utc>,
    ) -> Result<Report, EngineError> {
        let mut cached = self.state.lock().await;
        // Taken out for the run and put back only after it succeeds: a run that fails, or
        // whose future is dropped part-way, leaves no copy behind, and the next run reads the
        // store again.
        let mut state = match cached.take() {
            Some(state) => state,
            None => self.store.load().await?,
        };
        let mut committed = Vec::new();
        let result = self
            .run_with(options, started, &state, &mut committed)
            .await;
        // A run with failed writes may have left echoes (updates noted, never confirmed) in
        // the store only: the next run reads the store again.
        if let Ok(report) = &result
            && report.outlook.failed == 0
            && report.salesforce.failed == 0
        {
            if !committed.is_empty() {
                state.apply(committed);
            }
            *cached = Some(state);
        }
        result
    }

    async fn run_with(
        &self,
        options: SyncOptions,
        started: chrono::DateTime<chrono::Utc>,
        state: &SyncState,
        committed: &mut Vec<StateChange>,
    ) -> Result<Report, EngineError> {
        let before = self.providers().map(|p| p.requests());
        let mut jitter = Jitter::new(self.jitter_seed ^ started.timestamp() as u64);
        // Intents left by an interrupted run: its creates are planned again with the same
        // keys (or their copies are found and linked); once this run is clean they are done.
        let leftover: Vec<String> = self
            .store
            .pending_intents()
            .await?
            .into_iter()
            .map(|i| i.key)
            .collect();
        let (plan, mut reads) = self.read_and_plan(options, state, &mut jitter).await?;
        // Planned: the snapshots (a copy of both calendars) are freed before the writes.
        for read in &mut reads {
            read.snapshot = Snapshot::changes(Vec::new(), Vec::new());
        }
        let mut report = Report::new(started, false);
        report.interrupted_creates = leftover.len();
        report.absorb_plan(&plan);
        let notify = self.notify();
        notify.conflicts(&plan.conflicts);
        if plan.is_held() {
            info!(
                trips = plan.delete_guard.len(),
                "delete guard held the run; nothing written"
            );
            self.finish(&mut report, &reads, before, false).await?;
            return Ok(report);
        }
        let stale = {
            let mut applier = Applier {
                providers: self.providers(),
                store: &*self.store,
                clock: &*self.clock,
                policy: &self.retry,
                jitter: &mut jitter,
                notify: &notify,
                report: &mut report,
                committed: &mut *committed,
            };
            applier.apply(&plan, false).await?
        };
        if !stale.is_empty() {
            self.replan_stale(&stale, &mut jitter, &notify, &mut report, committed)
                .await?;
        }
        let clean = report.is_clean();
        if clean && !leftover.is_empty() {
            self.store.commit(&[], &leftover).await?;
        }
        self.finish(&mut report, &reads, before, clean).await?;
        Ok(report)
    }

    /// Reads both sides, confirms what must be confirmed, and plans.
    async fn read_and_plan(
        &self,
        options: SyncOptions,
        state: &SyncState,
        jitter: &mut Jitter,
    ) -> Result<(Plan, [SideRead; 2]), EngineError> {
        let now = self.clock.now();
        let planner = self.planner(&options);
        let window = planner.window(now);
        let list_window = ListWindow {
            start: window.start,
            end: window.end,
        };
        let clock = &*self.clock;
        let outlook = read_side(
            &*self.outlook,
            &*self.store,
            list_window,
            window.end_day,
            clock,
            &self.retry,
            jitter,
        )
        .await?;
        let salesforce = read_side(
            &*self.salesforce,
            &*self.store,
            list_window,
            window.end_day,
            clock,
            &self.retry,
            jitter,
        )
        .await?;
        let mut reads = [outlook, salesforce];
        confirm_linked(
            &planner,
            self.providers(),
            &mut reads,
            state,
            clock,
            &self.retry,
            jitter,
        )
        .await?;
        let plan = planner.plan(now, &reads[0].snapshot, &reads[1].snapshot, state);
        Ok((plan, reads))
    }

    /// Writes refused as stale: read both items again and plan them again, once.
    async fn replan_stale(
        &self,
        stale: &[Stale],
        jitter: &mut Jitter,
        notify: &Notify<'_>,
        report: &mut Report,
        committed: &mut Vec<StateChange>,
    ) -> Result<(), EngineError> {
        let mut snapshots = [
            Snapshot::changes(Vec::new(), Vec::new()),
            Snapshot::changes(Vec::new(), Vec::new()),
        ];
        for s in stale {
            for (side, id) in [(s.target, &s.target_id), (s.target.other(), &s.source_id)] {
                let slot = usize::from(side == Side::Salesforce);
                let ids = [id.clone()];
                crate::fetch::confirm(
                    self.providers()[slot],
                    &ids,
                    &mut snapshots[slot],
                    &*self.clock,
                    &self.retry,
                    jitter,
                )
                .await
                .map_err(|source| EngineError::reading(side, source))?;
            }
        }
        let state = self.store.load().await?;
        let plan = self.planner(&SyncOptions::default()).plan(
            self.clock.now(),
            &snapshots[0],
            &snapshots[1],
            &state,
        );
        notify.conflicts(&plan.conflicts);
        report.conflicts.extend(plan.conflicts.iter().cloned());
        let mut applier = Applier {
            providers: self.providers(),
            store: &*self.store,
            clock: &*self.clock,
            policy: &self.retry,
            jitter,
            notify,
            report,
            committed,
        };
        applier.apply(&plan, true).await?;
        Ok(())
    }

    fn finish_counts(&self, report: &mut Report, reads: &[SideRead; 2], before: [u64; 2]) {
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let counts = report.side_mut(side);
            counts.full_listing = reads[i].full;
            counts.requests = self.providers()[i].requests().saturating_sub(before[i]);
            counts.quota = self.providers()[i].quota();
        }
        report.finished_at = self.clock.now();
    }

    /// Stores the cursors (only after a clean run: a failed item must be read again) and the
    /// run record, and tells the observer.
    async fn finish(
        &self,
        report: &mut Report,
        reads: &[SideRead; 2],
        before: [u64; 2],
        clean: bool,
    ) -> Result<(), EngineError> {
        if clean {
            for (i, side) in Side::BOTH.into_iter().enumerate() {
                if let Some(cursor) = &reads[i].next_cursor {
                    let stored = crate::fetch::stored_cursor(reads[i].window_end, cursor);
                    self.store.set_cursor(side, Some(&stored)).await?;
                }
            }
        }
        self.finish_counts(report, reads, before);
        self.store
            .record_run(&RunRecord {
                started_at: report.started_at,
                finished_at: report.finished_at,
                completed: report.held.is_empty(),
                report: report.to_json(),
            })
            .await?;
        self.notify().finished(report);
        info!(
            writes = report.writes(),
            errors = report.errors.len(),
            "run finished"
        );
        Ok(())
    }

    /// Relates an Outlook event to Salesforce records and sets snap fields on it. The values
    /// are written to the Outlook event at once (in calbridge's extended property); the next
    /// sync carries them to Salesforce.
    ///
    /// # Errors
    /// [`EngineError::NotFound`] when the event does not exist; [`EngineError::Write`] when
    /// the write fails.
    pub async fn relate(
        &self,
        outlook_id: &ItemId,
        link: RecordLink,
        snap_fields: SnapFields,
    ) -> Result<(), EngineError> {
        let side = Side::Outlook;
        let mut jitter = Jitter::new(self.jitter_seed);
        let event = with_retry(&*self.clock, &self.retry, &mut jitter, || {
            self.outlook.get(outlook_id)
        })
        .await
        .map_err(|source| EngineError::Write {
            side,
            id: outlook_id.clone(),
            source,
        })?
        .ok_or_else(|| EngineError::NotFound {
            side,
            id: outlook_id.clone(),
        })?;
        let write = Write::Update {
            id: outlook_id.clone(),
            expected_version: event.version.clone(),
            changes: vec![
                FieldValue::Related(link),
                FieldValue::SnapFields(snap_fields),
            ],
        };
        let mut results = self.outlook.apply(vec![write]).await;
        match results.pop() {
            Some(Ok(_)) => Ok(()),
            Some(Err(source)) => Err(EngineError::Write {
                side,
                id: outlook_id.clone(),
                source,
            }),
            None => Err(EngineError::Write {
                side,
                id: outlook_id.clone(),
                source: calbridge_provider::ProviderError::permanent("no result"),
            }),
        }
    }

    /// Records an Outlook event for SnapRecord and pushes it to Salesforce with a sync.
    ///
    /// # Errors
    /// [`EngineError::Mode`] unless the mode is SnapRecord; otherwise as
    /// [`SyncEngine::sync`].
    pub async fn snap(&self, outlook_id: &ItemId) -> Result<Report, EngineError> {
        if !self.settings.mode.is_snap_record() {
            return Err(EngineError::Mode(
                "snap needs SnapRecord mode; auto sync pushes every event",
            ));
        }
        self.store.set_snapped(outlook_id, true).await?;
        // An incremental read would not bring the event (it did not change): list Outlook.
        self.store.set_cursor(Side::Outlook, None).await?;
        if let Some(state) = self.state.lock().await.as_mut() {
            state.snapped.insert(outlook_id.clone());
        }
        self.sync().await
    }
}
