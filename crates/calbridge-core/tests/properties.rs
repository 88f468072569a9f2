//! Property tests: one per invariant of DESIGN §4, over random calendars, random edits and
//! random settings. Each builds a world, syncs it once with default settings (so pairs
//! exist), lets users edit both sides, then syncs again under the settings drawn.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;

use calbridge_core::{
    Action, ConflictPolicy, DateRange, DeleteGuard, Direction, Plan, Planner, Prevent,
    PrivateEvents, SyncMode, SyncSettings, WriteKind,
};
use calbridge_model::{
    Body, Event, FieldHashes, ItemId, RecordLink, Sensitivity, Side, pairing_key,
};
use proptest::prelude::*;
use support::*;

#[derive(Debug, Clone)]
struct Spec {
    day: i64,
    hour: u32,
    all_day: bool,
    private: bool,
    related: bool,
    rich: bool,
    location: u8,
}

#[derive(Debug, Clone)]
enum Edit {
    Subject(Side, usize),
    Location(Side, usize, u8),
    Body(Side, usize),
    Move(Side, usize, i64),
    MakePrivate(Side, usize),
    Relate(Side, usize),
    Delete(Side, usize),
    Create(Side, Spec),
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Outlook), Just(Side::Salesforce)]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        -45i64..400,
        6u32..20,
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
        any::<bool>(),
        prop::bool::weighted(0.3),
        0u8..4,
    )
        .prop_map(
            |(day, hour, all_day, private, related, rich, location)| Spec {
                day,
                hour,
                all_day,
                private,
                related,
                rich,
                location,
            },
        )
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (side(), any::<usize>()).prop_map(|(s, i)| Edit::Subject(s, i)),
        2 => (side(), any::<usize>(), 0u8..4).prop_map(|(s, i, l)| Edit::Location(s, i, l)),
        2 => (side(), any::<usize>()).prop_map(|(s, i)| Edit::Body(s, i)),
        2 => (side(), any::<usize>(), -60i64..420).prop_map(|(s, i, d)| Edit::Move(s, i, d)),
        1 => (side(), any::<usize>()).prop_map(|(s, i)| Edit::MakePrivate(s, i)),
        1 => (side(), any::<usize>()).prop_map(|(s, i)| Edit::Relate(s, i)),
        2 => (side(), any::<usize>()).prop_map(|(s, i)| Edit::Delete(s, i)),
        2 => (side(), spec()).prop_map(|(s, sp)| Edit::Create(s, sp)),
    ]
}

fn settings() -> impl Strategy<Value = SyncSettings> {
    (
        prop::array::uniform6(prop::bool::weighted(0.25)),
        any::<bool>(),
        prop::bool::weighted(0.2),
        any::<bool>(),
        prop_oneof![
            Just(ConflictPolicy::Newest),
            Just(ConflictPolicy::Outlook),
            Just(ConflictPolicy::Salesforce)
        ],
        (0u32..60, 0u32..400),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(
                p,
                include_private,
                related_only,
                preserve_formatting,
                conflict_policy,
                (past, future),
                snap,
            )| {
                SyncSettings {
                    range: DateRange {
                        past_days: past,
                        future_days: future,
                    },
                    direction: Direction {
                        outlook: Prevent {
                            create: p[0],
                            update: p[1],
                            delete: p[2],
                        },
                        salesforce: Prevent {
                            create: p[3],
                            update: p[4],
                            delete: p[5],
                        },
                    },
                    private_events: if include_private {
                        PrivateEvents::Include
                    } else {
                        PrivateEvents::Exclude
                    },
                    related_only,
                    preserve_formatting,
                    conflict_policy,
                    mode: if snap {
                        SyncMode::SnapRecord
                    } else {
                        SyncMode::Manual
                    },
                    ..SyncSettings::default()
                }
            },
        )
}

const LOCATIONS: [&str; 4] = ["", "Room 4", "Zoom", "Acme HQ"];

fn build(spec: &Spec, id: &str, n: usize) -> Event {
    let time = if spec.all_day {
        all_day(spec.day, 1)
    } else {
        timed(spec.day, spec.hour, 1)
    };
    let mut e = event(id, &format!("Meeting #{n}"), time);
    e.location = LOCATIONS[spec.location as usize].into();
    if spec.private {
        e.sensitivity = Sensitivity::Private;
    }
    if spec.related {
        e.link = RecordLink {
            what: Some("006A0000006Vm9r".parse().unwrap()),
            who: None,
        };
    }
    if spec.rich {
        e.body = rich_body();
    }
    e
}

#[derive(Debug, Clone)]
struct Case {
    outlook: Vec<Spec>,
    salesforce: Vec<Spec>,
    shared: Vec<Spec>,
    edits: Vec<Edit>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(spec(), 0..7),
        prop::collection::vec(spec(), 0..7),
        prop::collection::vec(spec(), 0..4),
        prop::collection::vec(edit(), 0..10),
    )
        .prop_map(|(outlook, salesforce, shared, edits)| Case {
            outlook,
            salesforce,
            shared,
            edits,
        })
}

/// Builds the world, syncs it once with defaults (bidirectional, guard off), then applies
/// the users' edits.
fn world(case: &Case) -> World {
    let mut w = World::default();
    let mut n = 0;
    for (side, specs) in [
        (Side::Outlook, &case.outlook),
        (Side::Salesforce, &case.salesforce),
    ] {
        for spec in specs {
            n += 1;
            let id = format!("{}{n}", if side == Side::Outlook { "o" } else { "s" });
            w.cal(side).add(build(spec, &id, n));
        }
    }
    for spec in &case.shared {
        n += 1;
        w.outlook.add(build(spec, &format!("o{n}"), n));
        w.salesforce.add(build(spec, &format!("s{n}"), n));
    }
    let initial = SyncSettings {
        delete_guard: DeleteGuard {
            enabled: false,
            ..DeleteGuard::default()
        },
        ..SyncSettings::default()
    };
    w.sync(&initial);
    for (k, edit) in case.edits.iter().enumerate() {
        apply_edit(&mut w, edit, k);
    }
    w
}

fn pick(w: &World, side: Side, i: usize) -> Option<String> {
    let cal = if side == Side::Outlook {
        &w.outlook
    } else {
        &w.salesforce
    };
    if cal.events.is_empty() {
        return None;
    }
    cal.events
        .keys()
        .nth(i % cal.events.len())
        .map(|id| id.as_str().to_owned())
}

fn apply_edit(w: &mut World, edit: &Edit, k: usize) {
    match edit {
        Edit::Create(side, spec) => {
            let id = format!("{}new{k}", if *side == Side::Outlook { "o" } else { "s" });
            w.cal(*side).add(build(spec, &id, 1000 + k));
        }
        Edit::Subject(side, i)
        | Edit::Location(side, i, _)
        | Edit::Body(side, i)
        | Edit::Move(side, i, _)
        | Edit::MakePrivate(side, i)
        | Edit::Relate(side, i)
        | Edit::Delete(side, i) => {
            let Some(id) = pick(w, *side, *i) else { return };
            let cal = w.cal(*side);
            match edit {
                Edit::Subject(..) => cal.edit(&id, |e| e.subject = format!("Edited #{k}")),
                Edit::Location(_, _, l) => cal.edit(&id, |e| {
                    e.location = format!("{} {k}", LOCATIONS[*l as usize])
                }),
                Edit::Body(..) => cal.edit(&id, |e| e.body = Body::text(format!("Notes {k}"))),
                Edit::Move(_, _, d) => cal.edit(&id, |e| e.time = timed(*d, 9, 1)),
                Edit::MakePrivate(..) => cal.edit(&id, |e| e.sensitivity = Sensitivity::Private),
                Edit::Relate(..) => cal.edit(&id, |e| {
                    e.link.who = Some("003A0000006Vm9r".parse().unwrap())
                }),
                Edit::Delete(..) => cal.remove(&id),
                Edit::Create(..) => unreachable!(),
            }
        }
    }
}

fn kind(action: &Action) -> WriteKind {
    match action {
        Action::Create { .. } => WriteKind::Create,
        Action::Update { .. } => WriteKind::Update,
        Action::Delete { .. } => WriteKind::Delete,
    }
}

/// Syncs, confirming a held mass delete (the guard has its own property).
fn sync_confirmed(w: &mut World, settings: &SyncSettings) -> Plan {
    let plan = w.plan_with(Planner::new(settings).confirm_deletes(true));
    w.apply(&plan, None);
    plan
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// §4.1: a second run with no edits in between writes nothing, and a third records nothing.
    #[test]
    fn idempotent(case in case(), settings in settings()) {
        let mut w = world(&case);
        sync_confirmed(&mut w, &settings);
        let second = sync_confirmed(&mut w, &settings);
        prop_assert!(second.operations.is_empty(), "second run wrote:\n{}", render(&second));
        let third = w.plan(&settings);
        prop_assert!(third.is_empty(), "third run recorded:\n{}", render(&third));
    }

    /// §4.2: with every switch off, one run leaves both sides with the same content for every
    /// non-private event in range, each linked to its copy.
    #[test]
    fn convergent(case in case()) {
        let settings = SyncSettings { delete_guard: DeleteGuard { enabled: false, ..DeleteGuard::default() }, ..SyncSettings::default() };
        let mut w = world(&case);
        sync_confirmed(&mut w, &settings);
        let window = Planner::new(&settings).window(now());
        let linked: HashSet<(Side, ItemId)> = w.state.pairs.iter()
            .flat_map(|p| [(Side::Outlook, p.outlook.id.clone()), (Side::Salesforce, p.salesforce.id.clone())])
            .collect();
        for pair in &w.state.pairs {
            let (Some(o), Some(s)) = (w.outlook.get(&pair.outlook.id), w.salesforce.get(&pair.salesforce.id)) else { continue };
            if o.is_private() || s.is_private() || !window.contains(&o.time) || !window.contains(&s.time) {
                continue;
            }
            prop_assert_eq!(FieldHashes::of(o), FieldHashes::of(s), "{:?} vs {:?}", o, s);
        }
        for (side, cal) in [(Side::Outlook, &w.outlook), (Side::Salesforce, &w.salesforce)] {
            for e in cal.events.values() {
                if !e.is_private() && window.contains(&e.time) {
                    prop_assert!(linked.contains(&(side, e.id.clone())), "{side} {} not linked", e.id);
                }
            }
        }
    }

    /// §4.3: no prevented write, no private content crossing, nothing outside the range changed.
    #[test]
    fn rules_hold(case in case(), settings in settings()) {
        let mut w = world(&case);
        let before = w.clone();
        let plan = sync_confirmed(&mut w, &settings);
        let direction = settings.effective_direction();
        let window = Planner::new(&settings).window(now());
        for op in &plan.operations {
            prop_assert!(direction.allows(op.target, kind(&op.action)), "prevented write: {op}");
            let source = if op.target == Side::Outlook { &before.salesforce } else { &before.outlook };
            if let Some(src) = source.get(&op.source_id)
                && !matches!(op.action, Action::Delete { .. })
            {
                prop_assert!(settings.private_events == PrivateEvents::Include || !src.is_private(), "private content copied: {op}");
                prop_assert!(window.contains(&src.time), "source outside the range: {op}");
            }
            let target = if op.target == Side::Outlook { &before.outlook } else { &before.salesforce };
            if let Some(id) = op.target_id() {
                let t = target.get(id).expect("writes target existing items");
                prop_assert!(window.contains(&t.time), "target outside the range changed: {op}");
            }
        }
        // Nothing outside the range changed, on either side.
        for (b, a) in [(&before.outlook, &w.outlook), (&before.salesforce, &w.salesforce)] {
            for (id, e) in &b.events {
                if !window.contains(&e.time) {
                    prop_assert_eq!(a.get(id), Some(e), "outside event {} changed", id);
                }
            }
        }
    }

    /// §4.4: every edit is copied, or the plan says why not.
    #[test]
    fn no_loss(case in case(), settings in settings()) {
        let settings = SyncSettings { delete_guard: DeleteGuard { enabled: false, ..DeleteGuard::default() }, ..settings };
        let mut w = world(&case);
        let before = w.clone();
        let plan = sync_confirmed(&mut w, &settings);
        let mentioned: HashSet<&ItemId> = plan.skipped.iter().map(|s| &s.id)
            .chain(plan.conflicts.iter().flat_map(|c| [&c.outlook_id, &c.salesforce_id]))
            .chain(plan.errors.iter().map(|e| &e.id))
            .collect();
        for pair in &before.state.pairs {
            for side in Side::BOTH {
                let (id, other_id) = (&pair.side(side).id, &pair.side(side.other()).id);
                let (cal, other_before, other_after) = match side {
                    Side::Outlook => (&before.outlook, &before.salesforce, &w.salesforce),
                    Side::Salesforce => (&before.salesforce, &before.outlook, &w.outlook),
                };
                if mentioned.contains(id) || mentioned.contains(other_id) {
                    continue;
                }
                match cal.get(id) {
                    // Deleted by the user: the copy is gone too, unless it was itself edited
                    // (then it lives on, linked again).
                    None => {
                        let copy_edited = other_before.get(other_id)
                            .is_some_and(|e| FieldHashes::of(e) != pair.side(side.other()).hashes);
                        prop_assert!(other_after.get(other_id).is_none() || copy_edited
                            || other_before.get(other_id).is_none(),
                            "deletion of {side} {id} neither copied nor reported");
                    }
                    Some(e) => {
                        let now_hashes = FieldHashes::of(e);
                        if now_hashes == pair.side(side).hashes {
                            continue;
                        }
                        let Some(copy) = other_after.get(other_id) else { continue };
                        let copy_hashes = FieldHashes::of(copy);
                        for f in calbridge_model::Field::ALL {
                            if now_hashes.get(f) != pair.side(side).hashes.get(f) {
                                prop_assert_eq!(copy_hashes.get(f), now_hashes.get(f),
                                    "edit of {} on {} {} lost:\n{}", f, side, id, render(&plan));
                            }
                        }
                    }
                }
            }
        }
    }

    /// §4.6: deletes follow confirmed deletions only, and the guard holds mass deletes.
    #[test]
    fn no_surprise_deletes(case in case(), settings in settings(), max_deletes in 0u32..4, max_percent in 0u8..60) {
        let settings = SyncSettings { delete_guard: DeleteGuard { enabled: true, max_deletes, max_percent }, ..settings };
        let w = world(&case);
        let snapshots = [w.outlook.snapshot(&w.state), w.salesforce.snapshot(&w.state)];
        let plan = Planner::new(&settings).plan(now(), &snapshots[0], &snapshots[1], &w.state);
        for side in Side::BOTH {
            let deletes: Vec<_> = plan.operations_on(side).filter(|op| matches!(op.action, Action::Delete { .. })).collect();
            for op in &deletes {
                let gone = &snapshots[if side == Side::Outlook { 1 } else { 0 }].gone;
                prop_assert!(gone.contains(&op.source_id), "delete without a confirmed deletion: {op}");
            }
            let in_range = snapshots[if side == Side::Outlook { 0 } else { 1 }].events.iter().filter(|e| plan.window.contains(&e.time)).count();
            let n = deletes.len();
            prop_assert!(n <= max_deletes as usize || n * 100 <= usize::from(max_percent) * in_range,
                "{n} deletes of {in_range} on {side} passed the guard");
        }
    }

    /// §4.5: a run interrupted after any write and run again leaves no event twice.
    #[test]
    fn no_duplicates_after_interruption(case in case(), settings in settings(), crash_at in 1usize..8) {
        let mut w = world(&case);
        let plan = w.plan_with(Planner::new(&settings).confirm_deletes(true));
        w.apply(&plan, Some(crash_at));
        let rerun = sync_confirmed(&mut w, &settings);
        for cal in [&w.outlook, &w.salesforce] {
            let mut seen = HashSet::new();
            for e in cal.events.values() {
                prop_assert!(seen.insert(pairing_key(e)), "duplicate on {}: {:?}\n{}\n{}", cal.side, e.subject, render(&plan), render(&rerun));
            }
        }
    }
}
