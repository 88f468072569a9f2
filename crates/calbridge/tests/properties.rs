//! End to end over in-memory calendars and SQLite state: for random calendars and random
//! edits, a sync converges and the next one writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use calbridge::model::{Body, Side};
use calbridge::provider::InMemoryProvider;
use calbridge::store::SqliteStore;
use proptest::prelude::*;
use support::*;

#[derive(Debug, Clone)]
enum Edit {
    Subject(bool, usize),
    Location(bool, usize),
    Body(bool, usize),
    Move(bool, usize, i64),
    Delete(bool, usize),
    Create(bool, i64, u32),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<bool>(), any::<usize>()).prop_map(|(s, i)| Edit::Subject(s, i)),
        (any::<bool>(), any::<usize>()).prop_map(|(s, i)| Edit::Location(s, i)),
        (any::<bool>(), any::<usize>()).prop_map(|(s, i)| Edit::Body(s, i)),
        (any::<bool>(), any::<usize>(), 0i64..60).prop_map(|(s, i, d)| Edit::Move(s, i, d)),
        (any::<bool>(), any::<usize>()).prop_map(|(s, i)| Edit::Delete(s, i)),
        (any::<bool>(), 0i64..60, 6u32..20).prop_map(|(s, d, h)| Edit::Create(s, d, h)),
    ]
}

fn apply(edit: &Edit, k: usize, outlook: &InMemoryProvider, salesforce: &InMemoryProvider) {
    let pick = |outlook_side: bool, i: usize| {
        let p = if outlook_side { outlook } else { salesforce };
        let events = p.events();
        (!events.is_empty()).then(|| (p.clone(), events[i % events.len()].id.clone()))
    };
    match *edit {
        Edit::Subject(s, i) => {
            if let Some((p, id)) = pick(s, i) {
                p.user_edit(&id, |e| e.subject = format!("Edited {k}"));
            }
        }
        Edit::Location(s, i) => {
            if let Some((p, id)) = pick(s, i) {
                p.user_edit(&id, |e| e.location = format!("Room {k}"));
            }
        }
        Edit::Body(s, i) => {
            if let Some((p, id)) = pick(s, i) {
                p.user_edit(&id, |e| e.body = Body::text(format!("Notes {k}")));
            }
        }
        Edit::Move(s, i, d) => {
            if let Some((p, id)) = pick(s, i) {
                p.user_edit(&id, |e| e.time = meeting("", d, 7).time);
            }
        }
        Edit::Delete(s, i) => {
            if let Some((p, id)) = pick(s, i) {
                p.user_delete(&id);
            }
        }
        Edit::Create(s, d, h) => {
            (if s { outlook } else { salesforce }).user_create(meeting(
                &format!("Created {k}"),
                d,
                h,
            ));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sync_converges_and_the_next_sync_writes_nothing(
        outlook_n in 0usize..6,
        salesforce_n in 0usize..6,
        edits in prop::collection::vec(edit(), 0..8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let outlook = InMemoryProvider::new(Side::Outlook);
            let salesforce = InMemoryProvider::new(Side::Salesforce);
            outlook.seed((0..outlook_n).map(|i| meeting(&format!("O{i}"), i as i64 + 1, 9)));
            salesforce.seed((0..salesforce_n).map(|i| meeting(&format!("S{i}"), i as i64 + 1, 14)));
            let s = settings();
            let s = calbridge::SyncSettings { delete_guard: calbridge::core::DeleteGuard { enabled: false, ..Default::default() }, ..s };
            let engine = engine(&outlook, &salesforce, SqliteStore::open(dir.path().join("s.sqlite")).unwrap(), s);
            engine.sync().await.unwrap();
            for (k, e) in edits.iter().enumerate() {
                apply(e, k, &outlook, &salesforce);
            }
            let report = engine.sync().await.unwrap();
            prop_assert!(report.errors.is_empty(), "{}", report);
            assert_converged(&outlook, &salesforce);
            let again = engine.sync().await.unwrap();
            prop_assert_eq!(again.writes(), 0, "{}", again);
            Ok(())
        })?;
    }
}
