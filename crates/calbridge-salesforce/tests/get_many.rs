//! Reads by many ids through the Salesforce emulator: one `Id IN (…)` query per 200
//! distinct ids, answers in the order asked, deleted and malformed ids as `get` treats them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use calbridge::model::ItemId;
use calbridge::provider::{CalendarProvider, ErrorKind, Write};
use calbridge_salesforce::MAX_IDS_PER_QUERY;
use support::*;

#[tokio::test]
async fn four_hundred_fifty_ids_take_three_queries() {
    init_tracing();
    let org = org().await;
    let p = org.provider(true).await;
    let events = (0..450)
        .map(|i| meeting(&format!("many {i:03}"), 1 + i % 60))
        .collect();
    let ids: Vec<ItemId> = create_all(&p, events)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 450);
    let gone: Vec<ItemId> = ids.iter().step_by(50).cloned().collect();
    let deletes = gone
        .iter()
        .map(|id| Write::Delete {
            id: id.clone(),
            expected_version: None,
        })
        .collect();
    assert!(p.apply(deletes).await.iter().all(Result::is_ok));
    let mut asked: Vec<ItemId> = ids.iter().rev().cloned().collect();
    asked.extend(ids.iter().take(20).cloned()); // repeats are queried once

    let queries = org.requests_to("/query");
    let found = p.get_many(&asked).await.unwrap();
    assert_eq!(
        org.requests_to("/query") - queries,
        450_usize.div_ceil(MAX_IDS_PER_QUERY),
        "450 distinct ids, 200 to a query"
    );
    assert_eq!(found.len(), asked.len());
    for (id, event) in asked.iter().zip(&found) {
        if gone.contains(id) {
            assert!(event.is_none(), "{id} was deleted");
        } else {
            assert_eq!(&event.as_ref().unwrap().id, id);
        }
    }
    for id in asked.iter().step_by(37) {
        let i = asked.iter().position(|a| a == id).unwrap();
        assert_eq!(p.get(id).await.unwrap(), found[i]);
    }
    assert!(p.get_many(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_malformed_id_fails_before_any_query() {
    let org = org().await;
    let p = org.provider(true).await;
    let ids: Vec<ItemId> = create_all(&p, vec![meeting("real", 3)])
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    let asked = vec![ids[0].clone(), ItemId::new("x' OR Name != '")];
    let queries = org.requests_to("/query");
    let error = p.get_many(&asked).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidData, "{error}");
    assert_eq!(p.get(&asked[1]).await.unwrap_err().kind(), error.kind());
    assert_eq!(org.requests_to("/query"), queries, "nothing was sent");
}
