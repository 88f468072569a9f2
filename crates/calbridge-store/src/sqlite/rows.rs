//! Rows to values and back: the stored encodings, and decoding that turns a bad value into
//! a [`StoreError::BadRow`] naming its row instead of a bare conversion error.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Row;
use rusqlite::types::ValueRef;

use calbridge_core::{Echo, PairKey, PairState, SideRecord};
use calbridge_model::{Field, FieldHashes, ItemId, Side, VersionTag};

use crate::{CreateIntent, RunRecord, StoreError};

/// The stored size of one side's [`FieldHashes`]: `Field::COUNT` little-endian `u64`s.
const HASH_BYTES: usize = 8 * Field::COUNT;

/// A row of `SELECT id, outlook_id, salesforce_id, outlook_version, outlook_hashes,
/// salesforce_version, salesforce_hashes FROM pairs`.
pub(super) fn pair_from_row(row: &Row<'_>) -> Result<PairState, StoreError> {
    let ids = text(row, 1).and_then(|o| Ok((o, text(row, 2)?)));
    let (outlook_id, salesforce_id) = ids.map_err(|reason| {
        let id = row.get::<_, i64>(0).unwrap_or_default();
        bad_row(format!("pair #{id}"), format!("an id {reason}"))
    })?;
    let side = |id: &str, first_column: usize, side: Side| {
        let fail = |column: &str, reason: String| {
            bad_row(
                format!("pair {outlook_id} / {salesforce_id}"),
                format!("{side}_{column} {reason}"),
            )
        };
        let version = opt_text(row, first_column).map_err(|r| fail("version", r))?;
        let hashes = blob(row, first_column + 1)
            .and_then(decode_hashes)
            .map_err(|r| fail("hashes", r))?;
        Ok::<_, StoreError>(SideRecord {
            id: ItemId::new(id),
            version: version.map(VersionTag::new),
            hashes,
        })
    };
    Ok(PairState {
        outlook: side(outlook_id, 3, Side::Outlook)?,
        salesforce: side(salesforce_id, 5, Side::Salesforce)?,
    })
}

pub(super) fn encode_hashes(hashes: &FieldHashes) -> [u8; HASH_BYTES] {
    let mut out = [0u8; HASH_BYTES];
    for (chunk, value) in out.chunks_exact_mut(8).zip(hashes.0) {
        chunk.copy_from_slice(&value.to_le_bytes());
    }
    out
}

pub(super) fn decode_hashes(bytes: &[u8]) -> Result<FieldHashes, String> {
    if bytes.len() != HASH_BYTES {
        return Err(format!("has {} bytes, expected {HASH_BYTES}", bytes.len()));
    }
    let mut out = [0u64; Field::COUNT];
    for (value, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        *value = u64::from_le_bytes(word);
    }
    Ok(FieldHashes(out))
}

// Column readers: they borrow from the row (no allocation) and say what was wrong.

pub(super) fn text<'r>(row: &'r Row<'_>, idx: usize) -> Result<&'r str, String> {
    match row.get_ref(idx).map_err(|e| e.to_string())? {
        ValueRef::Text(bytes) => {
            std::str::from_utf8(bytes).map_err(|e| format!("is not UTF-8: {e}"))
        }
        other => Err(format!("is {:?}, expected text", other.data_type())),
    }
}

pub(super) fn opt_text<'r>(row: &'r Row<'_>, idx: usize) -> Result<Option<&'r str>, String> {
    match row.get_ref(idx).map_err(|e| e.to_string())? {
        ValueRef::Null => Ok(None),
        _ => text(row, idx).map(Some),
    }
}

pub(super) fn blob<'r>(row: &'r Row<'_>, idx: usize) -> Result<&'r [u8], String> {
    match row.get_ref(idx).map_err(|e| e.to_string())? {
        ValueRef::Blob(bytes) => Ok(bytes),
        other => Err(format!("is {:?}, expected a blob", other.data_type())),
    }
}

pub(super) fn echo_from_row(row: &Row<'_>) -> Result<Echo, StoreError> {
    let id =
        text(row, 1).map_err(|reason| bad_row("echo".to_owned(), format!("item_id {reason}")))?;
    let what = || format!("echo of {id}");
    let side = text(row, 0)
        .ok()
        .and_then(parse_side)
        .ok_or_else(|| bad_row(what(), "side is not outlook or salesforce".to_owned()))?;
    let fields = text(row, 2)
        .map_err(|reason| bad_row(what(), format!("fields {reason}")))
        .and_then(|json| {
            serde_json::from_str(json).map_err(|e| bad_row(what(), format!("fields: {e}")))
        })?;
    Ok(Echo {
        side,
        id: ItemId::new(id),
        fields,
    })
}

pub(super) fn bad_row(what: String, reason: String) -> StoreError {
    StoreError::BadRow { what, reason }
}

pub(super) fn pair_name(key: &PairKey) -> String {
    format!("pair {} / {}", key.outlook, key.salesforce)
}

pub(super) fn parse_side(s: &str) -> Option<Side> {
    Side::BOTH.into_iter().find(|side| side.as_str() == s)
}

/// RFC 3339 in UTC with as many fractional digits as needed: exact, and sorts as text.
pub(super) fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

pub(super) fn intent_from_row(row: &Row<'_>) -> Result<CreateIntent, StoreError> {
    let key =
        text(row, 0).map_err(|reason| bad_row("intent".to_owned(), format!("key {reason}")))?;
    let fail = |reason: String| bad_row(format!("intent {key}"), reason);
    let target = text(row, 1).map_err(|r| fail(format!("target {r}")))?;
    let target =
        parse_side(target).ok_or_else(|| fail(format!("target {target:?} is not a side")))?;
    let source_id = text(row, 2).map_err(|r| fail(format!("source_id {r}")))?;
    let recorded_at = text(row, 3)
        .and_then(parse_time)
        .map_err(|r| fail(format!("recorded_at {r}")))?;
    Ok(CreateIntent {
        key: key.to_owned(),
        target,
        source_id: ItemId::new(source_id),
        recorded_at,
    })
}

pub(super) fn run_from_row(row: &Row<'_>) -> Result<RunRecord, StoreError> {
    let id: i64 = row.get(0)?;
    let fail = |reason: String| bad_row(format!("run #{id}"), reason);
    let time = |idx: usize, name: &str| {
        text(row, idx)
            .and_then(parse_time)
            .map_err(|r| fail(format!("{name} {r}")))
    };
    let started_at = time(1, "started_at")?;
    let finished_at = time(2, "finished_at")?;
    let completed = match row.get_ref(3)? {
        ValueRef::Integer(v) => v != 0,
        other => return Err(fail(format!("completed is {:?}", other.data_type()))),
    };
    let report = text(row, 4)
        .and_then(|s| serde_json::from_str(s).map_err(|e| format!("is not JSON: {e}")))
        .map_err(|r| fail(format!("report {r}")))?;
    Ok(RunRecord {
        started_at,
        finished_at,
        completed,
        report,
    })
}
