//! Reads by many ids through the Graph emulator: 20 `GET`s to a `$batch`, answers in the
//! order asked, a deleted event `None`, a throttled item failing the whole read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use chrono::Utc;

use calbridge_model::{Event, EventTime, ItemId};
use calbridge_provider::{CalendarProvider, ErrorKind, Write, WriteResult};
use calbridge_testkit::graph::GraphFault;
use support::*;

async fn created(p: &dyn CalendarProvider, n: usize) -> Vec<ItemId> {
    let writes: Vec<Write> = (0..n)
        .map(|i| {
            let start = Utc::now()
                + chrono::Duration::days(2)
                + chrono::Duration::minutes(15 * i64::try_from(i).unwrap());
            Write::Create {
                event: Event::new(
                    "",
                    format!("many {i:02}"),
                    EventTime::timed(start, start + chrono::Duration::minutes(10)),
                ),
                idempotency_key: format!("many-{i}"),
            }
        })
        .collect();
    p.apply(writes)
        .await
        .into_iter()
        .map(|r| match r.unwrap() {
            WriteResult::Created(e) => e.id,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn forty_five_ids_take_three_batches_in_order() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    let ids = created(&p, 44).await;
    let gone = ids[7].clone();
    let deleted = p
        .apply(vec![Write::Delete {
            id: gone.clone(),
            expected_version: None,
        }])
        .await;
    assert!(deleted[0].is_ok(), "{deleted:?}");
    let mut asked: Vec<ItemId> = ids.iter().rev().cloned().collect();
    asked.push(ids[3].clone()); // a repeat: 45 ids

    let (ours, theirs) = (p.requests(), graph.request_count());
    let found = p.get_many(&asked).await.unwrap();
    let (ours, theirs) = (p.requests() - ours, graph.request_count() - theirs);
    assert_eq!(theirs, 3, "45 ids are three $batch requests");
    assert_eq!(ours, 3);
    let batches: Vec<_> = graph.requests().into_iter().rev().take(3).collect();
    assert!(
        batches
            .iter()
            .all(|r| r.method == "POST" && r.path_and_query.ends_with("/$batch")),
        "{batches:?}"
    );

    assert_eq!(found.len(), asked.len());
    for (id, event) in asked.iter().zip(&found) {
        if *id == gone {
            assert!(event.is_none(), "the deleted event reads None");
        } else {
            let event = event.as_ref().unwrap();
            assert_eq!(&event.id, id);
            assert_eq!(Some(event), p.get(id).await.unwrap().as_ref());
        }
    }
    assert!(p.get_many(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_throttled_item_fails_the_whole_read() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    let ids = created(&p, 5).await;
    graph.inject(GraphFault::BatchItemThrottle {
        retry_after: Duration::from_secs(1),
        times: 1,
    });
    let error = p.get_many(&ids).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Throttled, "{error}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let found = p.get_many(&ids).await.unwrap();
    assert!(found.iter().all(Option::is_some));
}
