//! One behaviour suite every `StateStore` passes: each behaviour is an async function taking
//! `&dyn StateStore`, run against `MemoryStore` and a file-backed `SqliteStore`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use calbridge_core::{Echo, PairKey, PairState, SidePatch, SideRecord, StateChange, SyncState};
use calbridge_model::{Field, FieldHashes, ItemId, Side, VersionTag};
use calbridge_store::{CreateIntent, MemoryStore, RunRecord, SqliteStore, StateStore};

// ---- helpers ----

fn key(o: &str, s: &str) -> PairKey {
    PairKey {
        outlook: ItemId::new(o),
        salesforce: ItemId::new(s),
    }
}

fn hashes(seed: u64) -> FieldHashes {
    // Spread over the whole u64 range, high bit included.
    FieldHashes(std::array::from_fn(|i| {
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(i as u32 * 7)
            ^ i as u64
    }))
}

fn pair(o: &str, s: &str, seed: u64) -> PairState {
    PairState {
        outlook: SideRecord {
            id: ItemId::new(o),
            version: Some(VersionTag::new(format!("o-v{seed}"))),
            hashes: hashes(seed),
        },
        salesforce: SideRecord {
            id: ItemId::new(s),
            version: seed
                .is_multiple_of(2)
                .then(|| VersionTag::new(format!("s-v{seed}"))),
            hashes: hashes(seed + 1000),
        },
    }
}

fn put(p: PairState) -> StateChange {
    StateChange::Put {
        replaces: None,
        pair: p,
    }
}

fn time(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

fn intent(key: &str, target: Side, source: &str, at: DateTime<Utc>) -> CreateIntent {
    CreateIntent {
        key: key.to_owned(),
        target,
        source_id: ItemId::new(source),
        recorded_at: at,
    }
}

fn run(n: i64) -> RunRecord {
    RunRecord {
        started_at: time(n),
        finished_at: time(n) + Duration::milliseconds(1234),
        completed: n % 3 != 0,
        report: json!({ "run": n, "created": { "outlook": 1, "salesforce": n } }),
    }
}

fn ids(state: &SyncState) -> Vec<(String, String)> {
    state
        .pairs
        .iter()
        .map(|p| (p.outlook.id.to_string(), p.salesforce.id.to_string()))
        .collect()
}

/// A small deterministic generator (xorshift64*): enough variety, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One plausible change against `current`. Never a pair sharing one id with a different
/// stored pair without `replaces` naming it: `SyncState::apply` would keep both, a store
/// cannot (an event is in at most one pair), so that input has no common answer.
fn random_change(rng: &mut Rng, current: &SyncState) -> StateChange {
    let existing = |rng: &mut Rng| {
        (!current.pairs.is_empty()).then(|| current.pairs[rng.below(current.pairs.len())].key())
    };
    let missing = |rng: &mut Rng| key(&format!("gone-{}", rng.next()), "gone");
    match rng.below(9) {
        0..=3 => {
            let o = format!("O{}", rng.below(16));
            let s = format!("S{}", rng.below(16));
            let holders: Vec<PairKey> = current
                .pairs
                .iter()
                .map(PairState::key)
                .filter(|k| k.outlook.as_str() == o || k.salesforce.as_str() == s)
                .collect();
            match holders.as_slice() {
                [] => put(pair(&o, &s, rng.next())),
                [only] => StateChange::Put {
                    // The exact pair: updated in place; or a re-created side replacing it.
                    replaces: (*only != key(&o, &s)).then(|| only.clone()),
                    pair: pair(&o, &s, rng.next()),
                },
                [first, ..] => StateChange::Remove {
                    pair: first.clone(),
                },
            }
        }
        4 => match existing(rng) {
            // Re-put an existing pair; replacing itself moves it last.
            Some(k) => StateChange::Put {
                replaces: match rng.below(3) {
                    0 => None,
                    1 => Some(k.clone()),
                    _ => Some(missing(rng)),
                },
                pair: pair(k.outlook.as_str(), k.salesforce.as_str(), rng.next()),
            },
            None => put(pair("O0", "S0", rng.next())),
        },
        5 | 6 => {
            let target = match rng.below(4) {
                0 => missing(rng),
                _ => existing(rng).unwrap_or_else(|| missing(rng)),
            };
            let fields = (0..rng.below(4))
                .map(|_| (Field::ALL[rng.below(Field::COUNT)], rng.next()))
                .collect();
            StateChange::Patch {
                pair: target,
                side: Side::BOTH[rng.below(2)],
                patch: SidePatch {
                    version: (rng.below(3) != 0)
                        .then(|| VersionTag::new(format!("p{}", rng.next()))),
                    hashes: fields,
                },
            }
        }
        _ => StateChange::Remove {
            pair: match rng.below(4) {
                0 => missing(rng),
                _ => existing(rng).unwrap_or_else(|| missing(rng)),
            },
        },
    }
}

// ---- behaviours ----

async fn starts_empty(store: &dyn StateStore) {
    assert_eq!(store.load().await.unwrap(), SyncState::default());
    assert!(store.pending_intents().await.unwrap().is_empty());
    assert_eq!(store.cursor(Side::Outlook).await.unwrap(), None);
    assert_eq!(store.cursor(Side::Salesforce).await.unwrap(), None);
    assert!(store.recent_runs(10).await.unwrap().is_empty());
}

async fn puts_load_in_insertion_order_and_update_in_place(store: &dyn StateStore) {
    let changes = vec![
        put(pair("o1", "s1", 1)),
        put(pair("o2", "s2", 2)),
        put(pair("o3", "s3", 3)),
    ];
    store.commit(&changes, &[]).await.unwrap();
    store
        .commit(&[put(pair("o1", "s1", 11))], &[])
        .await
        .unwrap();
    let state = store.load().await.unwrap();
    assert_eq!(
        state.pairs,
        vec![
            pair("o1", "s1", 11),
            pair("o2", "s2", 2),
            pair("o3", "s3", 3)
        ]
    );
}

async fn put_with_replaces_drops_the_old_pair_and_appends(store: &dyn StateStore) {
    store
        .commit(&[put(pair("o1", "s1", 1)), put(pair("o2", "s2", 2))], &[])
        .await
        .unwrap();
    // Salesforce copy re-created: same Outlook event, new Salesforce id.
    let replace = StateChange::Put {
        replaces: Some(key("o1", "s1")),
        pair: pair("o1", "s1b", 3),
    };
    store.commit(&[replace], &[]).await.unwrap();
    let state = store.load().await.unwrap();
    assert_eq!(state.pairs, vec![pair("o2", "s2", 2), pair("o1", "s1b", 3)]);
}

async fn patch_replaces_version_and_listed_hashes_of_one_side(store: &dyn StateStore) {
    store
        .commit(&[put(pair("o1", "s1", 1))], &[])
        .await
        .unwrap();
    let patch = StateChange::Patch {
        pair: key("o1", "s1"),
        side: Side::Salesforce,
        patch: SidePatch {
            version: None,
            hashes: vec![(Field::Subject, 7), (Field::SnapFields, u64::MAX)],
        },
    };
    store.commit(&[patch], &[]).await.unwrap();
    let mut expected = pair("o1", "s1", 1);
    expected.salesforce.version = None;
    expected.salesforce.hashes.set(Field::Subject, 7);
    expected.salesforce.hashes.set(Field::SnapFields, u64::MAX);
    assert_eq!(store.load().await.unwrap().pairs, vec![expected]);
}

async fn patch_and_remove_of_a_missing_pair_are_ignored(store: &dyn StateStore) {
    store
        .commit(&[put(pair("o1", "s1", 1))], &[])
        .await
        .unwrap();
    let changes = [
        StateChange::Patch {
            pair: key("o1", "other"),
            side: Side::Outlook,
            patch: SidePatch {
                version: Some(VersionTag::new("x")),
                hashes: vec![(Field::Body, 1)],
            },
        },
        StateChange::Remove {
            pair: key("nope", "s1"),
        },
    ];
    store.commit(&changes, &[]).await.unwrap();
    assert_eq!(store.load().await.unwrap().pairs, vec![pair("o1", "s1", 1)]);
}

async fn changes_in_one_commit_apply_in_order(store: &dyn StateStore) {
    let changes = [
        put(pair("o1", "s1", 1)),
        StateChange::Patch {
            pair: key("o1", "s1"),
            side: Side::Outlook,
            patch: SidePatch {
                version: Some(VersionTag::new("patched")),
                hashes: vec![],
            },
        },
        put(pair("o2", "s2", 2)),
        StateChange::Remove {
            pair: key("o1", "s1"),
        },
        // Patch after remove: the pair is gone, nothing happens.
        StateChange::Patch {
            pair: key("o1", "s1"),
            side: Side::Outlook,
            patch: SidePatch {
                version: None,
                hashes: vec![(Field::Time, 1)],
            },
        },
        put(pair("o1", "s1", 5)),
    ];
    store.commit(&changes, &[]).await.unwrap();
    assert_eq!(
        ids(&store.load().await.unwrap()),
        [("o2".into(), "s2".into()), ("o1".into(), "s1".into())]
    );
}

async fn commit_matches_sync_state_apply(store: &dyn StateStore) {
    let mut rng = Rng(0x00C0_FFEE_D00D_F00D);
    let mut reference = SyncState::default();
    let mut most = 0;
    for round in 0..150 {
        let mut scratch = reference.clone();
        let changes: Vec<StateChange> = (0..rng.below(8))
            .map(|_| {
                let change = random_change(&mut rng, &scratch);
                scratch.apply([change.clone()]);
                change
            })
            .collect();
        reference.apply(changes.iter().cloned());
        store.commit(&changes, &[]).await.unwrap();
        let loaded = store.load().await.unwrap();
        assert_eq!(loaded, reference, "after round {round}: {changes:#?}");
        most = most.max(reference.pairs.len());
    }
    eprintln!("most pairs: {most}, last: {}", reference.pairs.len());
    assert!(most >= 8, "the sequence should build up some pairs");
}

async fn intents_are_recorded_once_in_order(store: &dyn StateStore) {
    let a = intent("k-a", Side::Salesforce, "o1", time(0));
    let b = intent(
        "k-b",
        Side::Outlook,
        "s1",
        time(1) + Duration::nanoseconds(123_456_789),
    );
    store.record_intents(&[a.clone(), b.clone()]).await.unwrap();
    // Same key again: the first record stands.
    let a_again = intent("k-a", Side::Outlook, "changed", time(5));
    let c = intent("k-c", Side::Salesforce, "o2", time(2));
    store.record_intents(&[a_again, c.clone()]).await.unwrap();
    assert_eq!(store.pending_intents().await.unwrap(), vec![a, b, c]);
}

async fn commit_clears_only_the_done_intents(store: &dyn StateStore) {
    let a = intent("k-a", Side::Salesforce, "o1", time(0));
    let b = intent("k-b", Side::Salesforce, "o2", time(0));
    store.record_intents(&[a, b.clone()]).await.unwrap();
    store
        .commit(
            &[put(pair("o1", "s1", 1))],
            &["k-a".to_owned(), "unknown".to_owned()],
        )
        .await
        .unwrap();
    assert_eq!(store.pending_intents().await.unwrap(), vec![b]);
    assert_eq!(store.load().await.unwrap().pairs.len(), 1);
}

async fn cursors_are_per_side_and_clearable(store: &dyn StateStore) {
    store
        .set_cursor(Side::Outlook, Some("delta-1"))
        .await
        .unwrap();
    store
        .set_cursor(Side::Salesforce, Some("2026-11-24T09:00:00Z"))
        .await
        .unwrap();
    store
        .set_cursor(Side::Outlook, Some("delta-2"))
        .await
        .unwrap();
    assert_eq!(
        store.cursor(Side::Outlook).await.unwrap().as_deref(),
        Some("delta-2")
    );
    assert_eq!(
        store.cursor(Side::Salesforce).await.unwrap().as_deref(),
        Some("2026-11-24T09:00:00Z")
    );
    store.set_cursor(Side::Outlook, None).await.unwrap();
    store.set_cursor(Side::Outlook, None).await.unwrap();
    assert_eq!(store.cursor(Side::Outlook).await.unwrap(), None);
    assert!(store.cursor(Side::Salesforce).await.unwrap().is_some());
}

async fn snapped_set_adds_and_removes(store: &dyn StateStore) {
    let (a, b) = (ItemId::new("AAMk-a"), ItemId::new("AAMk-b"));
    store.set_snapped(&a, true).await.unwrap();
    store.set_snapped(&b, true).await.unwrap();
    store.set_snapped(&a, true).await.unwrap();
    assert_eq!(
        store.load().await.unwrap().snapped,
        [a.clone(), b.clone()].into()
    );
    store.set_snapped(&a, false).await.unwrap();
    store
        .set_snapped(&ItemId::new("never"), false)
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap().snapped, [b].into());
}

async fn runs_come_back_newest_first(store: &dyn StateStore) {
    for n in 0..5 {
        store.record_run(&run(n)).await.unwrap();
    }
    assert_eq!(
        store.recent_runs(3).await.unwrap(),
        vec![run(4), run(3), run(2)]
    );
    assert_eq!(store.recent_runs(100).await.unwrap().len(), 5);
    assert!(store.recent_runs(0).await.unwrap().is_empty());
}

async fn runs_keep_the_newest_thousand(store: &dyn StateStore) {
    for n in 0..1003 {
        store.record_run(&run(n)).await.unwrap();
    }
    let all = store.recent_runs(usize::MAX).await.unwrap();
    assert_eq!(all.len(), 1000);
    assert_eq!(all.first(), Some(&run(1002)));
    assert_eq!(all.last(), Some(&run(3)));
}

async fn run_reports_round_trip(store: &dyn StateStore) {
    let record = RunRecord {
        started_at: time(0) + Duration::nanoseconds(1),
        finished_at: time(90),
        completed: false,
        report: json!({
            "errors": [{ "side": "outlook", "message": "throttled — 429" }],
            "nested": { "empty": {}, "null": null, "big": u64::MAX, "neg": -3, "half": 0.5 },
        }),
    };
    store.record_run(&record).await.unwrap();
    assert_eq!(store.recent_runs(1).await.unwrap(), vec![record]);
}

// ---- both stores ----

async fn echoes_are_kept_until_a_commit_names_their_item(store: &dyn StateStore) {
    store
        .commit(&[put(pair("o1", "s1", 1)), put(pair("o2", "s2", 2))], &[])
        .await
        .unwrap();
    let echo = |side, id: &str, hash| Echo {
        side,
        id: ItemId::new(id),
        fields: vec![(Field::Location, hash), (Field::Subject, hash + 1)],
    };
    store
        .record_echoes(&[
            echo(Side::Outlook, "o1", 7),
            echo(Side::Salesforce, "s2", 8),
        ])
        .await
        .unwrap();
    // Recording again replaces.
    store
        .record_echoes(&[echo(Side::Outlook, "o1", 9)])
        .await
        .unwrap();
    let mut loaded = store.load().await.unwrap().echoes;
    loaded.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    assert_eq!(
        loaded,
        vec![
            echo(Side::Outlook, "o1", 9),
            echo(Side::Salesforce, "s2", 8)
        ]
    );
    store
        .commit(
            &[StateChange::Patch {
                pair: key("o1", "s1"),
                side: Side::Outlook,
                patch: SidePatch {
                    version: None,
                    hashes: vec![(Field::Location, 9)],
                },
            }],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        store.load().await.unwrap().echoes,
        vec![echo(Side::Salesforce, "s2", 8)],
        "the commit naming o1 settled its echo only"
    );
}

macro_rules! suite {
    ($($behaviour:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $behaviour() {
                    super::$behaviour(&MemoryStore::new()).await;
                }
            )*
        }

        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $behaviour() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = SqliteStore::open(dir.path().join("state.db")).unwrap();
                    super::$behaviour(&store).await;
                }
            )*
        }
    };
}

suite!(
    starts_empty,
    puts_load_in_insertion_order_and_update_in_place,
    put_with_replaces_drops_the_old_pair_and_appends,
    patch_replaces_version_and_listed_hashes_of_one_side,
    patch_and_remove_of_a_missing_pair_are_ignored,
    changes_in_one_commit_apply_in_order,
    commit_matches_sync_state_apply,
    intents_are_recorded_once_in_order,
    commit_clears_only_the_done_intents,
    cursors_are_per_side_and_clearable,
    snapped_set_adds_and_removes,
    runs_come_back_newest_first,
    runs_keep_the_newest_thousand,
    run_reports_round_trip,
    echoes_are_kept_until_a_commit_names_their_item,
);
