//! Writing: sObject Collections with `allOrNone = false`, each record's result its own
//! outcome. A created record is answered from the fields sent (it holds exactly those; its
//! `SystemModstamp` comes with the next read), so 1,000 creates cost 5 requests; updated
//! records are read back in one SOQL query, because an update sends only some fields.
//!
//! Per `apply` chunk (at most the batch size) the requests are: one optimistic-concurrency
//! check when any update or delete carries an expected version (a query of the current
//! `SystemModstamp`s; collections have no conditional form), one create or upsert, one
//! update, one delete, and one re-read of updated records — each only when needed.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Map, Value, json};

use calbridge_model::{ItemId, SALESFORCE_DESCRIPTION_MAX, SalesforceId, VersionTag};
use calbridge_provider::{ErrorKind, ProviderError, Write, WriteResult};

use crate::client::{Api, Failure, Target};
use crate::error::classify;
use crate::mapping::{Outgoing, Row};
use crate::provider::SalesforceProvider;
use crate::soql::Select;
use crate::wire::{SaveResult, format_datetime, parse_datetime};

type Outcome = Result<WriteResult, ProviderError>;

/// A copy of an error for each write of a failed request.
fn again(e: &ProviderError) -> ProviderError {
    e.duplicate()
}

fn invalid_id(id: &ItemId) -> Result<SalesforceId, ProviderError> {
    SalesforceId::parse_field("Id", id.as_str()).map_err(|e| ProviderError::InvalidData {
        field: "Id".into(),
        message: e.to_string(),
    })
}

/// One create, update or delete of a chunk, by its index in the `apply` call.
struct Pending {
    index: usize,
    kind: Kind,
}

enum Kind {
    Create {
        fields: Outgoing,
    },
    Update {
        id: SalesforceId,
        expected: Option<VersionTag>,
        fields: Outgoing,
    },
    Delete {
        id: SalesforceId,
        expected: Option<VersionTag>,
    },
}

impl SalesforceProvider {
    pub(crate) async fn apply_writes(&self, writes: Vec<Write>) -> Vec<Outcome> {
        let mut results: Vec<Option<Outcome>> = (0..writes.len()).map(|_| None).collect();
        let mut base = 0;
        let mut writes = writes.into_iter().peekable();
        while writes.peek().is_some() {
            let chunk: Vec<Write> = writes.by_ref().take(self.batch_size).collect();
            let len = chunk.len();
            self.apply_chunk(base, chunk, &mut results).await;
            base += len;
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(ProviderError::permanent("write left without an outcome")))
            })
            .collect()
    }

    async fn apply_chunk(&self, base: usize, chunk: Vec<Write>, results: &mut [Option<Outcome>]) {
        let mut pending = Vec::new();
        let needs_owner = chunk.iter().any(|w| matches!(w, Write::Create { .. }));
        let owner = if needs_owner {
            Some(self.owner().await)
        } else {
            None
        };
        for (offset, write) in chunk.into_iter().enumerate() {
            let index = base + offset;
            let kind = match write {
                Write::Create {
                    event,
                    idempotency_key,
                } => {
                    let owner = match &owner {
                        Some(Ok(owner)) => owner,
                        Some(Err(e)) => {
                            results[index] = Some(Err(again(e)));
                            continue;
                        }
                        None => continue,
                    };
                    self.mapping
                        .create_fields(&event, Some(owner), &idempotency_key)
                        .map(|fields| Kind::Create { fields })
                }
                Write::Update {
                    id,
                    expected_version,
                    changes,
                } => invalid_id(&id).and_then(|sid| {
                    let fields = self.mapping.update_fields(&changes)?;
                    Ok(Kind::Update {
                        id: sid,
                        expected: expected_version,
                        fields,
                    })
                }),
                Write::Delete {
                    id,
                    expected_version,
                } => invalid_id(&id).map(|sid| Kind::Delete {
                    id: sid,
                    expected: expected_version,
                }),
            };
            match kind {
                Ok(kind) => pending.push(Pending { index, kind }),
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        self.check_versions(&mut pending, results).await;
        let mut reread: Vec<(usize, SalesforceId, bool)> = Vec::new();
        self.send_creates(&pending, results).await;
        self.send_updates(&pending, results, &mut reread).await;
        self.send_deletes(&pending, results).await;
        self.reread(&reread, results).await;
    }

    /// Refuses updates and deletes whose record moved past the version they were planned
    /// against (a read-then-write check: a change landing between the two is not caught).
    async fn check_versions(&self, pending: &mut Vec<Pending>, results: &mut [Option<Outcome>]) {
        let ids: Vec<SalesforceId> = pending
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::Update {
                    id,
                    expected: Some(_),
                    ..
                }
                | Kind::Delete {
                    id,
                    expected: Some(_),
                } => Some(id.clone()),
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            return;
        }
        let current: Result<BTreeMap<String, Option<String>>, ProviderError> = async {
            let mut out = BTreeMap::new();
            for chunk in ids.chunks(200) {
                let soql = Select::new(["Id", "SystemModstamp"])
                    .and_then(|s| s.filter_in("Id", chunk))
                    .map_err(|e| ProviderError::permanent(e.to_string()))?
                    .build();
                let (records, _) = self.api.query(&soql, false).await?;
                for r in records {
                    let id = r
                        .get("Id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let stamp = r
                        .get("SystemModstamp")
                        .and_then(Value::as_str)
                        .and_then(|s| parse_datetime("SystemModstamp", s).ok())
                        .map(format_datetime);
                    out.insert(id, stamp);
                }
            }
            Ok(out)
        }
        .await;
        pending.retain(|p| {
            let (id, expected, delete) = match &p.kind {
                Kind::Update {
                    id,
                    expected: Some(v),
                    ..
                } => (id, v, false),
                Kind::Delete {
                    id,
                    expected: Some(v),
                } => (id, v, true),
                _ => return true,
            };
            let item = ItemId::new(id.as_str());
            let outcome = match &current {
                Err(e) => Some(Err(again(e))),
                Ok(rows) => match rows.get(id.as_str()) {
                    // Gone already: a delete is done, an update has nothing to update.
                    None if delete => Some(Ok(WriteResult::Deleted)),
                    None => Some(Err(ProviderError::NotFound { id: item })),
                    Some(stamp) if stamp.as_deref() != Some(expected.as_str()) => {
                        Some(Err(ProviderError::Precondition { id: item }))
                    }
                    Some(_) => None,
                },
            };
            match outcome {
                Some(outcome) => {
                    results[p.index] = Some(outcome);
                    false
                }
                None => true,
            }
        });
    }

    /// Sends a collection request and returns one result per record, or the request's
    /// failure.
    async fn collection(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        expected: usize,
    ) -> Result<Vec<SaveResult>, Failure> {
        let answer = self
            .api
            .call(method, Target::Data(path), query, body, None)
            .await?;
        let saved: Vec<SaveResult> = Api::parse(&answer).map_err(|error| Failure {
            error,
            maybe_applied: true,
        })?;
        if saved.len() != expected {
            return Err(Failure {
                error: ProviderError::permanent(format!(
                    "Salesforce answered {} results for {expected} records",
                    saved.len()
                )),
                maybe_applied: true,
            });
        }
        Ok(saved)
    }

    fn record_error(result: &SaveResult, about: Option<&ItemId>) -> ProviderError {
        classify(None, &result.errors, "", about, None)
    }

    fn warn_truncated(id: &str, fields: &Outgoing) {
        if let Some(chars) = fields.truncated_from {
            tracing::warn!(
                id,
                chars,
                kept = SALESFORCE_DESCRIPTION_MAX,
                "the description was cut to Salesforce's limit"
            );
        }
    }

    async fn send_creates(&self, pending: &[Pending], results: &mut [Option<Outcome>]) {
        let creates: Vec<(usize, &Outgoing)> = pending
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::Create { fields } => Some((p.index, fields)),
                _ => None,
            })
            .collect();
        if creates.is_empty() {
            return;
        }
        let records: Vec<Value> = creates.iter().map(|(_, f)| record(None, f)).collect();
        let body = json!({"allOrNone": false, "records": records});
        let upsert = self.mapping.external_id_field();
        let saved = match upsert {
            // Upsert keyed by the idempotency key: a retry matches the first attempt's record.
            Some(field) => {
                let path = format!("composite/sobjects/Event/{field}");
                self.collection(Method::PATCH, &path, &[], Some(&body), creates.len())
                    .await
            }
            None => {
                self.collection(
                    Method::POST,
                    "composite/sobjects",
                    &[],
                    Some(&body),
                    creates.len(),
                )
                .await
            }
        };
        let saved = match saved {
            Ok(saved) => saved,
            Err(failure) => {
                let error = if failure.maybe_applied
                    && upsert.is_none()
                    && failure.error.is_retryable()
                {
                    // The records may exist now; a blind retry would duplicate them. The
                    // next run's intents and pairing find them instead.
                    ProviderError::permanent(format!(
                        "the create request's outcome is unknown ({}); not retried to avoid duplicates",
                        failure.error
                    ))
                } else {
                    failure.error
                };
                for (index, _) in &creates {
                    results[*index] = Some(Err(again(&error)));
                }
                return;
            }
        };
        for ((index, fields), result) in creates.iter().zip(saved) {
            match (&result.id, result.success) {
                (Some(id), true) => match SalesforceId::parse_field("id", id) {
                    Ok(sid) => {
                        Self::warn_truncated(sid.as_str(), fields);
                        // The record holds exactly the fields sent (cut and converted as
                        // `fields` already are); only the server's stamps are unknown, so the
                        // event is answered without a read-back and without a version. The
                        // next read brings the version; the engine needs no other request.
                        let mut row = fields.fields.clone();
                        row.insert("Id".into(), Value::String(sid.to_string()));
                        results[*index] = Some(match self.mapping.read(&row) {
                            Ok(Row::Event(event)) => Ok(WriteResult::Created(*event)),
                            Ok(_) => Err(ProviderError::permanent(format!(
                                "created {sid}, but what was sent does not read as an event"
                            ))),
                            Err(b) => Err(ProviderError::InvalidData {
                                field: b.error.field().to_owned(),
                                message: format!("created, but reads back unmapped: {}", b.error),
                            }),
                        });
                    }
                    Err(e) => {
                        results[*index] = Some(Err(ProviderError::permanent(format!(
                            "created record: {e}"
                        ))))
                    }
                },
                _ => results[*index] = Some(Err(Self::record_error(&result, None))),
            }
        }
    }

    async fn send_updates(
        &self,
        pending: &[Pending],
        results: &mut [Option<Outcome>],
        reread: &mut Vec<(usize, SalesforceId, bool)>,
    ) {
        let mut updates: Vec<(usize, &SalesforceId, &Outgoing)> = Vec::new();
        for p in pending {
            if let Kind::Update { id, fields, .. } = &p.kind {
                if fields.fields.is_empty() {
                    // Nothing Salesforce stores changed (a cancelled flag): just read it.
                    reread.push((p.index, id.clone(), false));
                } else {
                    updates.push((p.index, id, fields));
                }
            }
        }
        if updates.is_empty() {
            return;
        }
        let records: Vec<Value> = updates
            .iter()
            .map(|(_, id, f)| record(Some(id), f))
            .collect();
        let body = json!({"allOrNone": false, "records": records});
        let saved = match self
            .collection(
                Method::PATCH,
                "composite/sobjects",
                &[],
                Some(&body),
                updates.len(),
            )
            .await
        {
            Ok(saved) => saved,
            Err(failure) => {
                // Replaying an update writes the same values again: safe to retry.
                for (index, _, _) in &updates {
                    results[*index] = Some(Err(again(&failure.error)));
                }
                return;
            }
        };
        for ((index, id, fields), result) in updates.iter().zip(saved) {
            if result.success {
                Self::warn_truncated(id.as_str(), fields);
                reread.push((*index, (*id).clone(), false));
            } else {
                let item = ItemId::new(id.as_str());
                results[*index] = Some(Err(Self::record_error(&result, Some(&item))));
            }
        }
    }

    async fn send_deletes(&self, pending: &[Pending], results: &mut [Option<Outcome>]) {
        let deletes: Vec<(usize, &SalesforceId)> = pending
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::Delete { id, .. } => Some((p.index, id)),
                _ => None,
            })
            .collect();
        if deletes.is_empty() {
            return;
        }
        let ids: Vec<&str> = deletes.iter().map(|(_, id)| id.as_str()).collect();
        let ids = ids.join(",");
        let query = [("ids", ids.as_str()), ("allOrNone", "false")];
        let saved = match self
            .collection(
                Method::DELETE,
                "composite/sobjects",
                &query,
                None,
                deletes.len(),
            )
            .await
        {
            Ok(saved) => saved,
            Err(failure) => {
                for (index, _) in &deletes {
                    results[*index] = Some(Err(again(&failure.error)));
                }
                return;
            }
        };
        for ((index, id), result) in deletes.iter().zip(saved) {
            let item = ItemId::new(id.as_str());
            results[*index] = Some(if result.success {
                Ok(WriteResult::Deleted)
            } else {
                match Self::record_error(&result, Some(&item)) {
                    // Deleting what is already gone succeeds.
                    e if e.kind() == ErrorKind::NotFound => Ok(WriteResult::Deleted),
                    e => Err(e),
                }
            });
        }
    }

    /// Reads back every created and updated record in one query and answers with the
    /// stored events.
    async fn reread(
        &self,
        written: &[(usize, SalesforceId, bool)],
        results: &mut [Option<Outcome>],
    ) {
        if written.is_empty() {
            return;
        }
        let ids: Vec<SalesforceId> = written.iter().map(|(_, id, _)| id.clone()).collect();
        let rows = self.read_ids(&ids).await;
        let idempotent = self.mapping.external_id_field().is_some();
        for (index, id, created) in written {
            let item = ItemId::new(id.as_str());
            let outcome = match &rows {
                Ok(rows) => match rows.get(id.as_str()).map(|r| self.mapping.read(r)) {
                    Some(Ok(Row::Event(event))) if *created => Ok(WriteResult::Created(*event)),
                    Some(Ok(Row::Event(event))) => Ok(WriteResult::Updated(*event)),
                    Some(Ok(_)) | None if *created => Err(ProviderError::permanent(format!(
                        "created {id} but could not read it back"
                    ))),
                    Some(Ok(_)) | None => Err(ProviderError::NotFound { id: item }),
                    Some(Err(b)) => Err(ProviderError::InvalidData {
                        field: b.error.field().to_owned(),
                        message: format!("written, but reads back unmapped: {}", b.error),
                    }),
                },
                // Without an external id a retried create would duplicate: report the
                // record as not confirmed and let the next run pair it.
                Err(e) if *created && !idempotent && e.is_retryable() => {
                    Err(ProviderError::permanent(format!(
                        "created {id} but could not read it back ({e}); not retried to avoid duplicates"
                    )))
                }
                Err(e) => Err(again(e)),
            };
            results[*index] = Some(outcome);
        }
    }
}

/// A collection record: `attributes`, the id for an update, and the fields.
fn record(id: Option<&SalesforceId>, fields: &Outgoing) -> Value {
    let mut out = Map::new();
    out.insert("attributes".into(), json!({"type": "Event"}));
    if let Some(id) = id {
        out.insert("id".into(), Value::String(id.to_string()));
    }
    for (k, v) in &fields.fields {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}
