//! Reads by many ids: [`CalendarProvider::get_many`] answers as [`CalendarProvider::get`]
//! does, id by id.

use chrono::Duration;

use calbridge_model::{Event, EventTime, ItemId};

use super::scope::{Scope, differences};
use super::{ConformanceError, Context};
use crate::CalendarProvider;

/// `get_many` answers exactly what `get` answers for each id, in the order asked: present
/// events, a deleted one and (when the provider's `get` takes it) an id that never existed,
/// mixed and repeated; an empty slice answers an empty list.
///
/// # Errors
/// What the provider got wrong.
pub async fn get_many_matches_get(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    let mut s = Scope::new("get_many_matches_get", p, ctx);
    let outcome = get_many_body(&mut s).await;
    s.finish(outcome).await
}

async fn get_many_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let events = ["first", "second", "third", "deleted"]
        .iter()
        .zip(0_i64..)
        .map(|(label, i)| {
            let start = s.at(12 + i, 10 * 60);
            s.event(
                label,
                EventTime::timed(start, start + Duration::minutes(30)),
            )
        })
        .collect();
    let created = s.create_all(events).await?;
    let [a, b, c, d] = created.as_slice() else {
        return Err(s.fail("four creates did not return four events"));
    };
    s.delete(&d.id, None).await?;

    let empty =
        s.p.get_many(&[])
            .await
            .map_err(|e| s.failed_call("get_many of no ids", e))?;
    s.ensure(empty.is_empty(), || {
        format!("get_many of no ids answered {} items", empty.len())
    })?;

    let mut ids = vec![
        c.id.clone(),
        d.id.clone(),
        a.id.clone(),
        b.id.clone(),
        a.id.clone(),
        d.id.clone(),
    ];
    // An id of the same shape that names nothing, when `get` accepts it (a service may
    // refuse a malformed id outright; `get_many` then fails the same way, not checked here).
    let missing = ItemId::new(never_existed(a.id.as_str()));
    if let Ok(None) = s.p.get(&missing).await {
        ids.insert(2, missing);
    }
    let mut expected = Vec::with_capacity(ids.len());
    for id in &ids {
        expected.push(s.get(id).await?);
    }
    let got =
        s.p.get_many(&ids)
            .await
            .map_err(|e| s.failed_call("get_many", e))?;
    s.ensure(got.len() == ids.len(), || {
        format!("get_many of {} ids answered {} items", ids.len(), got.len())
    })?;
    for ((id, want), found) in ids.iter().zip(&expected).zip(&got) {
        compare(s, id, want.as_ref(), found.as_ref())?;
    }
    Ok(())
}

fn compare(
    s: &Scope<'_>,
    id: &ItemId,
    want: Option<&Event>,
    found: Option<&Event>,
) -> Result<(), ConformanceError> {
    match (want, found) {
        (None, None) => Ok(()),
        (Some(want), Some(found)) => {
            s.ensure(found.id == want.id, || {
                format!("get_many answered {} where {id} was asked", found.id)
            })?;
            s.ensure(found.version == want.version, || {
                format!(
                    "{id}: get_many gives version {:?}, get {:?}",
                    found.version, want.version
                )
            })?;
            let diffs = differences(want, found);
            s.ensure(diffs.is_empty(), || {
                format!("{id}: get_many differs from get: {}", diffs.join("; "))
            })
        }
        (Some(_), None) => Err(s.fail(format!("{id}: get finds it, get_many answers None"))),
        (None, Some(_)) => Err(s.fail(format!("{id}: get answers None, get_many finds it"))),
    }
}

/// `id` with one character changed: the same length and alphabet, naming nothing.
fn never_existed(id: &str) -> String {
    let mut chars: Vec<char> = id.chars().collect();
    // The middle: away from prefixes (key prefixes, `mem-o-`) and check suffixes.
    let at = chars.len() / 2;
    if let Some(c) = chars.get_mut(at) {
        *c = match *c {
            'Z' => 'Y',
            'z' => 'y',
            '9' => '8',
            c if c.is_ascii_alphanumeric() => char::from(c as u8 + 1),
            _ => 'x',
        };
    }
    chars.into_iter().collect()
}
