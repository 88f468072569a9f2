//! Applying writes: up to 20 per `$batch`, each item's answer mapped on its own.
//!
//! - Creates are `POST`s carrying `transactionId` = the idempotency key; a repeated key
//!   (`ErrorDuplicateTransactionId`, or the existing event returned) yields the event
//!   created the first time.
//! - Updates first read the event (one `$batch` of `GET`s per chunk): the PATCH then
//!   carries only fields that change, a relation change keeps the rest of calbridge's
//!   property, and the stored event can be returned with its property (Graph's PATCH answer
//!   omits extended properties). PATCH carries `If-Match` with the expected version.
//! - Deletes carry `If-Match`; 404 counts as done.

use std::collections::BTreeMap;

use serde_json::Value;

use calbridge_model::{Event, ItemId, OUTLOOK_SUBJECT_MAX};
use calbridge_provider::{ListWindow, ProviderError, Write, WriteResult};

use crate::client::{PREFER_EVENTS, item_error, query};
use crate::mapping::{GraphItem, Patch, event_to_json, map_item, overlay_property, patch_for};
use crate::property::{PropertyData, expand_clause, is_calbridge_property};
use crate::provider::{Inner, Paths, broken_error, invalid};
use crate::wire::{BatchRequest, BatchResponse, EVENT_SELECT};

type Outcome = Result<WriteResult, ProviderError>;

/// A copy of an error for each write of a failed request.
fn replicate(error: &ProviderError) -> ProviderError {
    error.duplicate()
}

/// Applies `writes` in chunks of the provider's batch size, one result per write in order.
pub(crate) async fn apply(inner: &Inner, writes: Vec<Write>) -> Vec<Outcome> {
    let paths = match inner.paths().await {
        Ok(paths) => paths,
        Err(e) => return writes.iter().map(|_| Err(replicate(&e))).collect(),
    };
    let mut results = Vec::with_capacity(writes.len());
    for chunk in writes.chunks(inner.max_batch.max(1)) {
        results.extend(apply_chunk(inner, paths, chunk).await);
    }
    results
}

/// What was sent for one write, to read its answer.
enum Sent {
    Create {
        event: Box<Event>,
        key: String,
        property: PropertyData,
    },
    Update {
        id: ItemId,
        property: PropertyData,
    },
    Delete {
        id: ItemId,
    },
}

async fn apply_chunk(inner: &Inner, paths: &Paths, chunk: &[Write]) -> Vec<Outcome> {
    let mut out: Vec<Option<Outcome>> = chunk.iter().map(|_| None).collect();
    let current = read_for_updates(inner, paths, chunk, &mut out).await;
    let mut requests = Vec::new();
    let mut sent: BTreeMap<String, (usize, Sent)> = BTreeMap::new();
    for (i, write) in chunk.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let prepared = match write {
            Write::Create {
                event,
                idempotency_key,
            } => prepare_create(inner, paths, i, event, idempotency_key),
            Write::Update {
                id,
                expected_version,
                changes,
            } => {
                let Some(current) = current.get(&i) else {
                    out[i] = Some(Err(ProviderError::transient(format!(
                        "{id} could not be read before updating it"
                    ))));
                    continue;
                };
                if expected_version.is_some() && current.version != *expected_version {
                    // Read just now at another version: someone edited it since it was
                    // planned. No need to send a PATCH Graph would refuse.
                    out[i] = Some(Err(ProviderError::Precondition { id: id.clone() }));
                    continue;
                }
                let patch = patch_for(current, changes);
                if patch.body.is_empty() {
                    out[i] = Some(Ok(WriteResult::Updated(patch.expected)));
                    continue;
                }
                prepare_update(inner, paths, i, id, expected_version.as_ref(), patch)
            }
            Write::Delete {
                id,
                expected_version,
            } => prepare_delete(inner, paths, i, id, expected_version.as_ref()),
        };
        match prepared {
            Ok((request, what)) => {
                sent.insert(request.id.clone(), (i, what));
                requests.push(request);
            }
            Err(e) => out[i] = Some(Err(e)),
        }
    }
    if !requests.is_empty() {
        match inner.client.batch(&requests).await {
            Ok(mut answers) => {
                for (key, (i, what)) in sent {
                    let outcome = match answers.remove(&key) {
                        Some(answer) => read_answer(inner, paths, what, answer).await,
                        None => Err(ProviderError::transient("a $batch answer lacked an item")),
                    };
                    out[i] = Some(outcome);
                }
            }
            Err(error) => {
                tracing::debug!(%error, writes = sent.len(), "a $batch failed as a whole");
                for (i, _) in sent.values() {
                    out[*i] = Some(Err(replicate(&error)));
                }
            }
        }
    }
    out.into_iter()
        .map(|o| o.unwrap_or_else(|| Err(ProviderError::permanent("write not attempted"))))
        .collect()
}

/// Reads every event the chunk updates, in one `$batch`. Failures settle their write.
async fn read_for_updates(
    inner: &Inner,
    paths: &Paths,
    chunk: &[Write],
    out: &mut [Option<Outcome>],
) -> BTreeMap<usize, Event> {
    let targets: Vec<(usize, &ItemId)> = chunk
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Write::Update { id, .. } => Some((i, id)),
            _ => None,
        })
        .collect();
    let mut current = BTreeMap::new();
    if targets.is_empty() {
        return current;
    }
    let ids: Vec<ItemId> = targets.iter().map(|(_, id)| (*id).clone()).collect();
    match inner.read_many(paths, &ids).await {
        Ok(found) => {
            for ((i, id), (_, item)) in targets.iter().zip(found) {
                let outcome = match item {
                    Some(Ok(GraphItem::Event(event))) => {
                        current.insert(*i, *event);
                        continue;
                    }
                    None | Some(Ok(GraphItem::Removed { .. })) => {
                        ProviderError::NotFound { id: (*id).clone() }
                    }
                    Some(Ok(_)) => ProviderError::InvalidData {
                        field: "type".into(),
                        message: format!(
                            "{id} is a recurring series' master, which calbridge does not write"
                        ),
                    },
                    Some(Err(broken)) => broken_error(&broken),
                };
                out[*i] = Some(Err(outcome));
            }
        }
        Err(error) => {
            for (i, _) in &targets {
                out[*i] = Some(Err(replicate(&error)));
            }
        }
    }
    current
}

fn item_request(
    inner: &Inner,
    index: usize,
    method: &'static str,
    path: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> Result<BatchRequest, ProviderError> {
    let url = inner.client.url(path)?;
    let mut headers = BTreeMap::from([("Prefer".to_owned(), PREFER_EVENTS.to_owned())]);
    if body.is_some() {
        headers.insert("Content-Type".into(), "application/json".into());
    }
    if let Some(tag) = if_match {
        headers.insert("If-Match".into(), tag.to_owned());
    }
    Ok(BatchRequest {
        id: index.to_string(),
        method,
        url: inner.client.relative(&url),
        headers,
        body,
    })
}

fn prepare_create(
    inner: &Inner,
    paths: &Paths,
    index: usize,
    event: &Event,
    key: &str,
) -> Result<(BatchRequest, Sent), ProviderError> {
    event.time.validate().map_err(|e| invalid(&e))?;
    let len = event.subject.chars().count();
    if len > OUTLOOK_SUBJECT_MAX {
        return Err(invalid(&calbridge_model::ModelError::TooLong {
            field: "subject",
            len,
            max: OUTLOOK_SUBJECT_MAX,
        }));
    }
    let body = event_to_json(event, key);
    let request = item_request(inner, index, "POST", &paths.events_root, None, Some(body))?;
    Ok((
        request,
        Sent::Create {
            event: Box::new(event.clone()),
            key: key.to_owned(),
            property: crate::mapping::property_of(event),
        },
    ))
}

fn prepare_update(
    inner: &Inner,
    paths: &Paths,
    index: usize,
    id: &ItemId,
    expected: Option<&calbridge_model::VersionTag>,
    patch: Patch,
) -> Result<(BatchRequest, Sent), ProviderError> {
    let request = item_request(
        inner,
        index,
        "PATCH",
        &paths.item(id),
        expected.map(calbridge_model::VersionTag::as_str),
        Some(Value::Object(patch.body)),
    )?;
    Ok((
        request,
        Sent::Update {
            id: id.clone(),
            property: patch.property,
        },
    ))
}

fn prepare_delete(
    inner: &Inner,
    paths: &Paths,
    index: usize,
    id: &ItemId,
    expected: Option<&calbridge_model::VersionTag>,
) -> Result<(BatchRequest, Sent), ProviderError> {
    let request = item_request(
        inner,
        index,
        "DELETE",
        &paths.item(id),
        expected.map(calbridge_model::VersionTag::as_str),
        None,
    )?;
    Ok((request, Sent::Delete { id: id.clone() }))
}

/// The event in a write's answer, with calbridge's property: as Graph returned it when the
/// answer carries it, else as written (POST and PATCH answers omit extended properties).
fn stored_event(body: Option<&Value>, property: &PropertyData) -> Result<Event, ProviderError> {
    let value = body.unwrap_or(&Value::Null);
    let mut event = match map_item(value) {
        Ok(GraphItem::Event(event)) => *event,
        Ok(_) => {
            return Err(ProviderError::permanent(
                "Graph answered a write with something that is not an event",
            ));
        }
        Err(broken) => return Err(broken_error(&broken)),
    };
    let echoed = value
        .get("singleValueExtendedProperties")
        .and_then(Value::as_array)
        .is_some_and(|props| {
            props.iter().any(|p| {
                p.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(is_calbridge_property)
            })
        });
    if !echoed {
        overlay_property(&mut event, property);
    }
    Ok(event)
}

async fn read_answer(inner: &Inner, paths: &Paths, sent: Sent, answer: BatchResponse) -> Outcome {
    let status = answer.status;
    match sent {
        Sent::Create {
            event,
            key,
            property,
        } => {
            if (200..300).contains(&status) {
                return stored_event(answer.body.as_ref(), &property).map(WriteResult::Created);
            }
            let error = item_error(&answer);
            if error.is_duplicate_transaction() {
                tracing::debug!(%key, "create already done (duplicate transactionId); reading it");
                return existing(
                    inner,
                    paths,
                    &event,
                    &key,
                    error.existing_event_id.as_deref(),
                )
                .await
                .map(WriteResult::Created);
            }
            Err(error.into_provider(None))
        }
        Sent::Update { id, property } => match status {
            200 | 201 => stored_event(answer.body.as_ref(), &property).map(WriteResult::Updated),
            // No representation returned: read what is stored.
            202 | 204 => match inner.get(&id).await? {
                Some(event) => Ok(WriteResult::Updated(event)),
                None => Err(ProviderError::NotFound { id }),
            },
            _ => Err(item_error(&answer).into_provider(Some(&id))),
        },
        Sent::Delete { id } => match status {
            200..=299 | 404 => Ok(WriteResult::Deleted),
            _ => Err(item_error(&answer).into_provider(Some(&id))),
        },
    }
}

/// The event an earlier create with `key` made: by the id the error names, else by looking
/// for its `transactionId` around the time it was created for.
async fn existing(
    inner: &Inner,
    paths: &Paths,
    event: &Event,
    key: &str,
    existing_id: Option<&str>,
) -> Result<Event, ProviderError> {
    if let Some(id) = existing_id {
        let id = ItemId::new(id);
        if let Some(found) = inner.get(&id).await? {
            return Ok(found);
        }
    }
    let (start, end) = event.time.instant_range(chrono_tz::UTC);
    // All-day dates float: widen by the largest UTC offsets so any zone's rendering is in.
    let pad = if event.time.is_all_day() {
        chrono::Duration::hours(15)
    } else {
        chrono::Duration::minutes(1)
    };
    let window = ListWindow {
        start: start - pad,
        end: end.max(start + chrono::Duration::seconds(1)) + pad,
    };
    let (start, end) = (
        window
            .start
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        window
            .end
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let top = inner.page_size.to_string();
    let q = query(&[
        ("startDateTime", &start),
        ("endDateTime", &end),
        ("$top", &top),
        ("$select", EVENT_SELECT),
        ("$expand", &expand_clause()),
    ]);
    let mut url = inner
        .client
        .url(&format!("{}/calendarView?{q}", paths.view_root))?;
    for _ in 0..1000 {
        let answer = inner
            .client
            .send(crate::client::Call::get(url, PREFER_EVENTS))
            .await?
            .ok(None)?;
        let page: crate::wire::Page = crate::provider::parse_json(&answer.body)?;
        if let Some(value) = page
            .value
            .iter()
            .find(|v| v.get("transactionId").and_then(Value::as_str) == Some(key))
        {
            return match map_item(value) {
                Ok(GraphItem::Event(found)) => Ok(*found),
                Ok(_) => Err(ProviderError::permanent(format!(
                    "the event created with transactionId {key} is not a single event"
                ))),
                Err(broken) => Err(broken_error(&broken)),
            };
        }
        match page.next_link {
            Some(link) => url = inner.client.follow(&link)?,
            None => break,
        }
    }
    Err(ProviderError::permanent(format!(
        "Graph says transactionId {key} was used, but no event with it is in the calendar"
    )))
}
