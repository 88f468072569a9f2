//! Reading events by id: one query for one id ([`CalendarProvider::get`]), one query per
//! [`MAX_IDS_PER_QUERY`] ids for many ([`CalendarProvider::get_many`]).
//!
//! [`CalendarProvider::get`]: calbridge_provider::CalendarProvider::get
//! [`CalendarProvider::get_many`]: calbridge_provider::CalendarProvider::get_many

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use calbridge_model::{Event, ItemId, SalesforceId};
use calbridge_provider::ProviderError;

use super::SalesforceProvider;
use crate::mapping::Row;
use crate::soql::{Literal, Op, Select};

/// The most ids one `Id IN (…)` query names: 200 18-character ids keep the query's URL
/// far below Salesforce's 16,384-byte limit.
pub const MAX_IDS_PER_QUERY: usize = 200;

fn parse_id(id: &ItemId) -> Result<SalesforceId, ProviderError> {
    SalesforceId::parse_field("Id", id.as_str()).map_err(|e| ProviderError::InvalidData {
        field: "Id".into(),
        message: e.to_string(),
    })
}

impl SalesforceProvider {
    /// A row read by id as an event: series masters and deleted rows read as gone, a row
    /// that cannot be mapped fails the read.
    fn row_event(&self, record: &Map<String, Value>) -> Result<Option<Event>, ProviderError> {
        match self.mapping.read(record) {
            Ok(Row::Event(event)) => Ok(Some(*event)),
            Ok(Row::SeriesMaster(_) | Row::Deleted(_)) => Ok(None),
            Err(b) => Err(ProviderError::InvalidData {
                field: b.error.field().to_owned(),
                message: b.error.to_string(),
            }),
        }
    }

    /// One event of this owner by id (`None`: no such live row).
    pub(super) async fn get_one(&self, id: &ItemId) -> Result<Option<Event>, ProviderError> {
        let sid = parse_id(id)?;
        let owner = self.owner().await?;
        let soql = Select::new(self.mapping.select_fields())
            .and_then(|s| s.filter("Id", Op::Eq, Literal::Id(&sid)))
            .and_then(|s| s.filter("OwnerId", Op::Eq, Literal::Id(&owner)))
            .map_err(Self::query_error)?
            .build();
        let (records, _) = self.api.query(&soql, false).await?;
        match records.first() {
            Some(record) => self.row_event(record),
            None => Ok(None),
        }
    }

    /// Events of this owner by id, in the order asked, each distinct id queried once and
    /// [`MAX_IDS_PER_QUERY`] to a query. Every id is validated before any query is sent.
    pub(super) async fn get_by_ids(
        &self,
        ids: &[ItemId],
    ) -> Result<Vec<Option<Event>>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let parsed = ids.iter().map(parse_id).collect::<Result<Vec<_>, _>>()?;
        // Keyed by the 15-character form: the service may answer either form.
        let distinct: BTreeMap<&str, &SalesforceId> =
            parsed.iter().map(|sid| (sid.to_15(), sid)).collect();
        let distinct: Vec<&SalesforceId> = distinct.into_values().collect();
        let owner = self.owner().await?;
        let mut rows: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for chunk in distinct.chunks(MAX_IDS_PER_QUERY) {
            let soql = Select::new(self.mapping.select_fields())
                .and_then(|s| s.filter_in("Id", chunk.iter().copied()))
                .and_then(|s| s.filter("OwnerId", Op::Eq, Literal::Id(&owner)))
                .map_err(Self::query_error)?
                .build();
            let (records, _) = self.api.query(&soql, false).await?;
            for record in records {
                let key = record
                    .get("Id")
                    .and_then(Value::as_str)
                    .and_then(|id| SalesforceId::parse_field("Id", id).ok())
                    .map(|id| id.to_15().to_owned());
                if let Some(key) = key {
                    rows.insert(key, record);
                }
            }
        }
        parsed
            .iter()
            .map(|sid| match rows.get(sid.to_15()) {
                Some(record) => self.row_event(record),
                None => Ok(None),
            })
            .collect()
    }
}
