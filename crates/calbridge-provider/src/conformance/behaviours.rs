//! The behaviours of the suite. Each public function sets up a [`Scope`], runs its body and
//! cleans up whatever the body created, pass or fail.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveTime};

use calbridge_model::{
    Body, Event, EventTime, FieldValue, ItemId, Sensitivity, ShowAs, resolve_local,
};

use super::scope::{Scope, check_same, same_time};
use super::{ConformanceError, Context, MANY_EVENTS};
use crate::{CalendarProvider, ErrorKind, Write};

/// Every field the suite writes survives create, read, update and read again; a deleted
/// event then reads as `None`.
///
/// # Errors
/// What the provider got wrong.
pub async fn crud_round_trip(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    let mut s = Scope::new("crud_round_trip", p, ctx);
    let outcome = crud_body(&mut s).await;
    s.finish(outcome).await
}

async fn crud_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let start = s.at(4, 9 * 60);
    let mut want = s.event(
        "original",
        EventTime::timed(start, start + Duration::minutes(90)),
    );
    want.location = "Room 4 — 2nd floor".into();
    want.body = Body::text("Agenda:\n1. pricing\n2. next steps");
    want.show_as = ShowAs::Free;

    let created = s.create(want.clone()).await?;
    check_same(s, "created", &want, &created)?;
    let read = s.get_some(&created.id).await?;
    check_same(s, "read after create", &want, &read)?;
    // A service may answer a create without its version stamp; a read must then give it.
    let Some(v1) = created.version.clone().or(read.version) else {
        return Err(s.fail("neither the create nor a read gives the event a version"));
    };

    let start = s.at(5, 14 * 60 + 30);
    let changes = vec![
        FieldValue::Subject(s.subject("renamed")),
        FieldValue::Location("Café Müller, Berlin".into()),
        FieldValue::Body(Body::text("New agenda: contract & signature")),
        FieldValue::ShowAs(ShowAs::OutOfOffice),
        FieldValue::Time(EventTime::timed(start, start + Duration::minutes(45))),
    ];
    for change in changes.iter().cloned() {
        want.set(change);
    }
    let updated = s.update(&created.id, Some(v1.clone()), changes).await?;
    check_same(s, "updated", &want, &updated)?;
    s.ensure(updated.id == created.id, || {
        format!("an update changed the id to {}", updated.id)
    })?;
    s.ensure(updated.version.as_ref() != Some(&v1), || {
        "an update left the version unchanged".into()
    })?;
    check_same(
        s,
        "read after update",
        &want,
        &s.get_some(&created.id).await?,
    )?;

    s.delete(&created.id, updated.version.clone()).await?;
    let after = s.get(&created.id).await?;
    s.ensure(after.is_none(), || "a deleted event still reads".into())
}

/// Listing returns every event when there are more than fit in one page, each once.
///
/// # Errors
/// What the provider got wrong.
pub async fn listing_covers_every_page(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    let mut s = Scope::new("listing_covers_every_page", p, ctx);
    let outcome = listing_body(&mut s).await;
    s.finish(outcome).await
}

async fn listing_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let events = (0..MANY_EVENTS)
        .map(|i| {
            let days = 3 + i64::try_from(i % 27).unwrap_or(0);
            let minutes = 8 * 60 + 20 * i64::try_from(i / 27).unwrap_or(0);
            let start = s.at(days, minutes);
            s.event(
                &format!("{i:04}"),
                EventTime::timed(start, start + Duration::minutes(15)),
            )
        })
        .collect();
    let created = s.create_all(events).await?;
    let listed = s.list_ours().await?;
    let mut seen: BTreeMap<&ItemId, usize> = BTreeMap::new();
    for event in &listed {
        *seen.entry(&event.id).or_default() += 1;
    }
    if let Some((id, n)) = seen.iter().find(|(_, n)| **n > 1) {
        return Err(s.fail(format!("{id} listed {n} times")));
    }
    let missing: Vec<&ItemId> = created
        .iter()
        .map(|e| &e.id)
        .filter(|id| !seen.contains_key(id))
        .collect();
    s.ensure(missing.is_empty(), || {
        format!(
            "{} of {} created events missing from the listing, e.g. {}",
            missing.len(),
            created.len(),
            missing.first().map(ToString::to_string).unwrap_or_default()
        )
    })
}

/// An update planned against an old version is refused with `Precondition` and changes
/// nothing.
///
/// # Errors
/// What the provider got wrong.
pub async fn stale_version_is_refused(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    let mut s = Scope::new("stale_version_is_refused", p, ctx);
    let outcome = stale_body(&mut s).await;
    s.finish(outcome).await
}

async fn stale_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let start = s.at(6, 10 * 60);
    let created = s
        .create(s.event("v1", EventTime::timed(start, start + Duration::hours(1))))
        .await?;
    let v1 = match created.version.clone() {
        Some(v) => Some(v),
        None => s.get_some(&created.id).await?.version,
    };
    let Some(v1) = v1 else {
        return Err(s.fail("neither the create nor a read gives the event a version"));
    };
    let v2 = s
        .update(
            &created.id,
            Some(v1.clone()),
            vec![FieldValue::Subject(s.subject("v2"))],
        )
        .await?;
    let stale = Write::Update {
        id: created.id.clone(),
        expected_version: Some(v1),
        changes: vec![FieldValue::Subject(s.subject("v3"))],
    };
    match s.write(stale).await? {
        Err(error) if error.kind() == ErrorKind::Precondition => {}
        Err(error) => return Err(s.failed_call("stale update (want Precondition)", error)),
        Ok(result) => return Err(s.fail(format!("a stale update succeeded: {result:?}"))),
    }
    let now = s.get_some(&created.id).await?;
    s.ensure(
        now.subject == v2.subject && now.version == v2.version,
        || {
            format!(
                "a refused update changed the event: {:?} at {:?}",
                now.subject, now.version
            )
        },
    )
}

/// Two creates with the same idempotency key make one event (skipped when the provider does
/// not claim idempotent creates).
///
/// # Errors
/// What the provider got wrong.
pub async fn idempotent_create(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    if !p.capabilities().idempotent_creates {
        tracing::info!("idempotent_create skipped: the provider does not claim it");
        return Ok(());
    }
    let mut s = Scope::new("idempotent_create", p, ctx);
    let outcome = idempotent_body(&mut s).await;
    s.finish(outcome).await
}

async fn idempotent_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let start = s.at(7, 11 * 60);
    let event = s.event("once", EventTime::timed(start, start + Duration::hours(1)));
    let key = s.next_key();
    let first = s.create_with_key(event.clone(), key.clone()).await?;
    let again = s.create_with_key(event, key).await?;
    s.ensure(again.id == first.id, || {
        format!("a repeated key created {} besides {}", again.id, first.id)
    })?;
    let listed = s.list_ours().await?;
    s.ensure(listed.len() == 1, || {
        format!(
            "{} events listed after two creates with one key",
            listed.len()
        )
    })
}

/// Timed events keep their exact instants whatever zone they were created in, including
/// half- and quarter-hour offsets and Lord Howe's half-hour daylight saving.
///
/// # Errors
/// What the provider got wrong.
pub async fn timed_zones_round_trip(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    let mut s = Scope::new("timed_zones_round_trip", p, ctx);
    let outcome = zones_body(&mut s).await;
    s.finish(outcome).await
}

async fn zones_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let zones = [
        chrono_tz::America::Los_Angeles,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Asia::Kathmandu,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::UTC,
    ];
    let mut events = Vec::new();
    for (i, zone) in (0_i64..).zip(zones) {
        // Morning and late evening: the latter crosses the UTC date line for most zones.
        for (label, minutes) in [("morning", 9 * 60 + 30), ("late", 23 * 60 + 45)] {
            let local = s.day(8 + i).and_time(NaiveTime::MIN) + Duration::minutes(minutes);
            let start = resolve_local(local, zone);
            let time = EventTime::Timed {
                start,
                end: start + Duration::minutes(50),
                zone: Some(zone),
            };
            events.push(s.event(&format!("{} {label}", zone.name()), time));
        }
    }
    let created = s.create_all(events.clone()).await?;
    let listed = s.list_ours().await?;
    for (want, got) in events.iter().zip(&created) {
        check_same(s, "created", want, got)?;
        check_same(s, "read", want, &s.get_some(&got.id).await?)?;
        let Some(in_list) = listed.iter().find(|e| e.id == got.id) else {
            return Err(s.fail(format!("{} missing from the listing", got.id)));
        };
        check_same(s, "listed", want, in_list)?;
    }
    Ok(())
}

/// All-day events of one day and of several days keep their exact dates.
///
/// # Errors
/// What the provider got wrong.
pub async fn all_day_round_trip(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    let mut s = Scope::new("all_day_round_trip", p, ctx);
    let outcome = all_day_body(&mut s).await;
    s.finish(outcome).await
}

async fn all_day_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let one = s.day(14);
    let multi = s.day(18);
    let events = vec![
        s.event("one day", EventTime::all_day(one, one + Duration::days(1))),
        s.event(
            "three days",
            EventTime::all_day(multi, multi + Duration::days(3)),
        ),
    ];
    let created = s.create_all(events.clone()).await?;
    let listed = s.list_ours().await?;
    for (want, got) in events.iter().zip(&created) {
        check_same(s, "created", want, got)?;
        let read = s.get_some(&got.id).await?;
        check_same(s, "read", want, &read)?;
        let in_list = listed.iter().find(|e| e.id == got.id);
        s.ensure(
            in_list.is_some_and(|e| same_time(&want.time, &e.time)),
            || {
                format!(
                    "{} missing from the listing or listed at other dates",
                    got.id
                )
            },
        )?;
    }
    Ok(())
}

/// The private flag survives create, read and updates both ways.
///
/// # Errors
/// What the provider got wrong.
pub async fn private_flag_round_trips(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    let mut s = Scope::new("private_flag_round_trips", p, ctx);
    let outcome = private_body(&mut s).await;
    s.finish(outcome).await
}

async fn private_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let start = s.at(20, 12 * 60);
    let mut private = s.event(
        "private",
        EventTime::timed(start, start + Duration::hours(1)),
    );
    private.sensitivity = Sensitivity::Private;
    let public = s.event(
        "public",
        EventTime::timed(start, start + Duration::hours(1)),
    );
    let created = s.create_all(vec![private, public]).await?;
    let [private, public] = created.as_slice() else {
        return Err(s.fail("two creates did not return two events"));
    };
    check_private(s, "created private", private, true)?;
    check_private(s, "read private", &s.get_some(&private.id).await?, true)?;
    check_private(s, "created public", public, false)?;
    check_private(s, "read public", &s.get_some(&public.id).await?, false)?;

    let cleared = s
        .update(&private.id, None, vec![FieldValue::Private(false)])
        .await?;
    check_private(s, "updated to public", &cleared, false)?;
    check_private(
        s,
        "read after update to public",
        &s.get_some(&private.id).await?,
        false,
    )?;
    let set = s
        .update(&private.id, None, vec![FieldValue::Private(true)])
        .await?;
    check_private(s, "updated to private", &set, true)?;
    check_private(
        s,
        "read after update to private",
        &s.get_some(&private.id).await?,
        true,
    )
}

fn check_private(
    s: &Scope<'_>,
    stage: &str,
    event: &Event,
    private: bool,
) -> Result<(), ConformanceError> {
    s.ensure(event.is_private() == private, || {
        format!(
            "{stage}: sensitivity {:?}, want private = {private}",
            event.sensitivity
        )
    })
}

/// A deleted event reads as `None`, deleting it again succeeds, and updating it answers
/// `NotFound`.
///
/// # Errors
/// What the provider got wrong.
pub async fn deleted_item_reads_none(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    let mut s = Scope::new("deleted_item_reads_none", p, ctx);
    let outcome = deleted_body(&mut s).await;
    s.finish(outcome).await
}

async fn deleted_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let start = s.at(22, 16 * 60);
    let created = s
        .create(s.event(
            "doomed",
            EventTime::timed(start, start + Duration::hours(1)),
        ))
        .await?;
    s.delete(&created.id, None).await?;
    let read = s.get(&created.id).await?;
    s.ensure(read.is_none(), || "a deleted event still reads".into())?;
    s.delete(&created.id, None).await?;
    let update = Write::Update {
        id: created.id.clone(),
        expected_version: None,
        changes: vec![FieldValue::Subject(s.subject("revived"))],
    };
    match s.write(update).await? {
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
        Err(error) => Err(s.failed_call("update of a deleted event (want NotFound)", error)),
        Ok(result) => Err(s.fail(format!(
            "an update of a deleted event succeeded: {result:?}"
        ))),
    }
}

/// Changes since a cursor report an edited event and a deleted id, and not an untouched
/// event (skipped when the provider is not incremental).
///
/// # Errors
/// What the provider got wrong.
pub async fn changes_report_edits_and_deletions(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Result<(), ConformanceError> {
    if !p.capabilities().incremental {
        tracing::info!("changes_report_edits_and_deletions skipped: not incremental");
        return Ok(());
    }
    let mut s = Scope::new("changes_report_edits_and_deletions", p, ctx);
    let outcome = changes_body(&mut s).await;
    s.finish(outcome).await
}

async fn changes_body(s: &mut Scope<'_>) -> Result<(), ConformanceError> {
    let events = ["edited", "deleted", "untouched"]
        .iter()
        .zip(0_i64..)
        .map(|(label, i)| {
            let start = s.at(25 + i, 9 * 60);
            s.event(label, EventTime::timed(start, start + Duration::hours(1)))
        })
        .collect();
    let created = s.create_all(events).await?;
    let [edited, deleted, untouched] = created.as_slice() else {
        return Err(s.fail("three creates did not return three events"));
    };
    let window = s.window();
    let listing =
        s.p.list(&window)
            .await
            .map_err(|e| s.failed_call("list", e))?;
    let Some(cursor) = listing.cursor else {
        return Err(s.fail("an incremental provider's listing returned no cursor"));
    };
    let new_subject = s.subject("edited again");
    s.update(
        &edited.id,
        None,
        vec![FieldValue::Subject(new_subject.clone())],
    )
    .await?;
    s.delete(&deleted.id, None).await?;

    let changes =
        s.p.changes(&cursor, &window)
            .await
            .map_err(|e| s.failed_call("changes", e))?;
    let changed: BTreeSet<&ItemId> = changes.events.iter().map(|e| &e.id).collect();
    let removed: BTreeSet<&ItemId> = changes.removed.iter().collect();
    let edit = changes.events.iter().find(|e| e.id == edited.id);
    s.ensure(edit.is_some_and(|e| e.subject == new_subject), || {
        format!("the edit of {} is missing from the changes", edited.id)
    })?;
    s.ensure(removed.contains(&deleted.id), || {
        format!("the deletion of {} is missing from removed", deleted.id)
    })?;
    s.ensure(!changed.contains(&deleted.id), || {
        format!("deleted {} reported as changed", deleted.id)
    })?;
    s.ensure(
        !changed.contains(&untouched.id) && !removed.contains(&untouched.id),
        || format!("untouched {} reported in the changes", untouched.id),
    )?;
    s.ensure(!removed.contains(&edited.id), || {
        format!("edited {} reported as removed", edited.id)
    })
}
