//! [`OutlookProvider`]: one Outlook calendar as a [`CalendarProvider`]; which calendar that
//! is (resolving named selectors on first use), and the calendars a user can pick from.
//! Reading is in [`crate::read`], writing in [`crate::write`].

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use calbridge_core::BrokenItem;
use calbridge_model::{Event, ItemId, Side};
use calbridge_provider::{
    CalendarProvider, Capabilities, Changes, Cursor, ListWindow, Listing, ProviderError, Write,
    WriteResult,
};

use crate::client::{Call, GraphClient, PREFER_EVENTS, query, segment};
use crate::config::{CalendarSelector, Mailbox, OutlookProviderBuilder};
use crate::wire::{GraphCalendar, Page};

/// A bound on pages followed in one listing: a server handing out links forever must not
/// keep a run alive forever.
pub(crate) const MAX_PAGES: usize = 100_000;

/// One Outlook calendar through Microsoft Graph.
///
/// Cheap to clone (clones share the HTTP client, tokens and request count).
#[derive(Clone, Debug)]
pub struct OutlookProvider {
    pub(crate) inner: Arc<Inner>,
}

/// Where the calendar's resources are, once the selector is resolved.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    /// What `calendarView` hangs off.
    pub(crate) view_root: String,
    /// Where events are created.
    pub(crate) events_root: String,
}

impl Paths {
    /// One event, addressed through its calendar: an event the user moved to another
    /// calendar then reads as gone from this one (immutable ids survive moves, so the
    /// mailbox-wide `/events/{id}` would still find it).
    pub(crate) fn item(&self, id: &ItemId) -> String {
        format!("{}/{}", self.events_root, segment(id.as_str()))
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) client: GraphClient,
    mailbox: Mailbox,
    calendar: CalendarSelector,
    paths: OnceCell<Paths>,
    pub(crate) page_size: usize,
    pub(crate) max_batch: usize,
}

/// A calendar the signed-in user can sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarInfo {
    /// The Graph id (in the mailbox it was listed from).
    pub id: String,
    /// The display name.
    pub name: String,
    /// The owner's name, when Graph says.
    pub owner_name: Option<String>,
    /// The owner's address, when Graph says.
    pub owner_address: Option<String>,
    /// Whether the user may write to it.
    pub can_edit: bool,
    /// Whether it is its mailbox's primary calendar.
    pub is_default: bool,
    /// Whether it belongs to another user (listed through their mailbox).
    pub shared: bool,
    /// How to select it in [`OutlookProviderBuilder::calendar`].
    pub selector: CalendarSelector,
}

impl OutlookProvider {
    /// Starts configuring a provider.
    #[must_use]
    pub fn builder() -> OutlookProviderBuilder {
        OutlookProviderBuilder::default()
    }

    pub(crate) fn from_parts(
        client: GraphClient,
        mailbox: Mailbox,
        calendar: CalendarSelector,
        page_size: usize,
        max_batch: usize,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                mailbox,
                calendar,
                paths: OnceCell::new(),
                page_size,
                max_batch,
            }),
        }
    }

    /// The calendars of the configured mailbox (on Microsoft 365 this includes calendars
    /// others shared with the user and that the user added, with their owner).
    ///
    /// # Errors
    /// Any [`ProviderError`].
    pub async fn list_calendars(&self) -> Result<Vec<CalendarInfo>, ProviderError> {
        let mailbox = mailbox_path(&self.inner.mailbox);
        self.inner.calendars(&mailbox, None).await
    }

    /// The calendars `owner` shared with the signed-in user (read through the owner's
    /// mailbox).
    ///
    /// # Errors
    /// Any [`ProviderError`]; a 403 when nothing is shared.
    pub async fn list_shared_calendars(
        &self,
        owner: &str,
    ) -> Result<Vec<CalendarInfo>, ProviderError> {
        let mailbox = format!("/users/{}", segment(owner));
        self.inner.calendars(&mailbox, Some(owner)).await
    }
}

fn mailbox_path(mailbox: &Mailbox) -> String {
    match mailbox {
        Mailbox::Me => "/me".into(),
        Mailbox::User(id) => format!("/users/{}", segment(id)),
    }
}

impl Inner {
    async fn calendars(
        &self,
        mailbox: &str,
        owner: Option<&str>,
    ) -> Result<Vec<CalendarInfo>, ProviderError> {
        let q = query(&[
            ("$top", "100"),
            ("$select", "id,name,canEdit,owner,isDefaultCalendar"),
        ]);
        let mut url = self.client.url(&format!("{mailbox}/calendars?{q}"))?;
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self
                .client
                .send(Call::get(url, PREFER_EVENTS))
                .await?
                .ok(None)?;
            let page: Page = parse_json(&answer.body)?;
            for value in page.value {
                let cal: GraphCalendar = serde_json::from_value(value).map_err(|e| {
                    ProviderError::permanent(format!("unreadable calendar in a listing: {e}"))
                })?;
                let selector = match owner {
                    Some(owner) => CalendarSelector::Shared {
                        owner: owner.to_owned(),
                        calendar: Some(cal.id.clone()),
                    },
                    None => CalendarSelector::Id(cal.id.clone()),
                };
                out.push(CalendarInfo {
                    name: cal.name.unwrap_or_default(),
                    owner_name: cal.owner.as_ref().and_then(|o| o.name.clone()),
                    owner_address: cal.owner.as_ref().and_then(|o| o.address.clone()),
                    can_edit: cal.can_edit.unwrap_or(false),
                    is_default: cal.is_default_calendar.unwrap_or(false),
                    shared: owner.is_some(),
                    selector,
                    id: cal.id,
                });
            }
            match page.next_link {
                Some(link) => url = self.client.follow(&link)?,
                None => return Ok(out),
            }
        }
        Err(too_many_pages())
    }

    /// The calendar's paths, resolving a named selector on first use.
    pub(crate) async fn paths(&self) -> Result<&Paths, ProviderError> {
        self.paths.get_or_try_init(|| self.resolve()).await
    }

    async fn resolve(&self) -> Result<Paths, ProviderError> {
        let own = mailbox_path(&self.mailbox);
        let by_id = |mailbox: String, id: &str| {
            let root = format!("{mailbox}/calendars/{}", segment(id));
            Paths {
                events_root: format!("{root}/events"),
                view_root: root,
            }
        };
        let primary = |mailbox: String| Paths {
            events_root: format!("{mailbox}/calendar/events"),
            view_root: mailbox,
        };
        let named = |calendars: Vec<CalendarInfo>, name: &str| {
            calendars
                .iter()
                .find(|c| c.name == name)
                .or_else(|| calendars.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
                .map(|c| c.id.clone())
                .ok_or_else(|| {
                    ProviderError::permanent(format!("no Outlook calendar is named {name:?}"))
                })
        };
        Ok(match &self.calendar {
            CalendarSelector::Primary => primary(own),
            CalendarSelector::Id(id) => by_id(own, id),
            CalendarSelector::Named(name) => {
                let id = named(self.calendars(&own, None).await?, name)?;
                by_id(own, &id)
            }
            CalendarSelector::Shared { owner, calendar } => {
                let mailbox = format!("/users/{}", segment(owner));
                match calendar {
                    Some(id) => by_id(mailbox, id),
                    None => primary(mailbox),
                }
            }
            CalendarSelector::SharedNamed { owner, name } => {
                let mailbox = format!("/users/{}", segment(owner));
                let id = named(self.calendars(&mailbox, Some(owner)).await?, name)?;
                by_id(mailbox, &id)
            }
        })
    }
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| ProviderError::Transient {
        retry_after: None,
        message: format!(
            "unreadable Graph answer ({e}): {}",
            calbridge_http::body_snippet(body)
        ),
        source: None,
    })
}

pub(crate) fn too_many_pages() -> ProviderError {
    ProviderError::permanent(format!("Graph kept paging past {MAX_PAGES} pages"))
}

pub(crate) fn invalid(error: &calbridge_model::ModelError) -> ProviderError {
    ProviderError::InvalidData {
        field: error.field().to_owned(),
        message: error.to_string(),
    }
}

pub(crate) fn broken_error(broken: &BrokenItem) -> ProviderError {
    match &broken.error {
        Some(error) => invalid(error),
        None => ProviderError::InvalidData {
            field: "event".into(),
            message: format!("{} cannot be mapped", broken.id),
        },
    }
}

#[async_trait]
impl CalendarProvider for OutlookProvider {
    fn side(&self) -> Side {
        Side::Outlook
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_batch: self.inner.max_batch,
            incremental: true,
            idempotent_creates: true,
        }
    }

    async fn list(&self, window: &ListWindow) -> Result<Listing, ProviderError> {
        self.inner.list(window).await
    }

    async fn changes(
        &self,
        cursor: &Cursor,
        window: &ListWindow,
    ) -> Result<Changes, ProviderError> {
        self.inner.changes(cursor, window).await
    }

    async fn get(&self, id: &ItemId) -> Result<Option<Event>, ProviderError> {
        self.inner.get(id).await
    }

    async fn get_many(&self, ids: &[ItemId]) -> Result<Vec<Option<Event>>, ProviderError> {
        self.inner.get_many(ids).await
    }

    async fn apply(&self, writes: Vec<Write>) -> Vec<Result<WriteResult, ProviderError>> {
        crate::write::apply(&self.inner, writes).await
    }

    fn requests(&self) -> u64 {
        self.inner.client.requests()
    }
}
