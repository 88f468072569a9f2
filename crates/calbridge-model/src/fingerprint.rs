//! Canonical comparison: a normalised form per field and stable fingerprints.
//!
//! Two sides never hold byte-identical events: Outlook adds HTML around the body, Salesforce
//! drops sub-second precision, one side writes `\r\n` where the other writes `\n`. Each synced
//! field therefore has a normalised form, and what calbridge compares (and stores) is a
//! 64-bit fingerprint of that form. The hash is calbridge's own and fixed, so fingerprints
//! written to a state file stay comparable across versions of Rust and of calbridge.

use std::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};

use crate::{Event, EventTime, Field, FieldValue};

/// Normalises free text for comparison: line endings to `\n`, non-breaking spaces to spaces,
/// runs of spaces and tabs to one space, each line trimmed, runs of blank lines to one, and
/// the whole trimmed.
#[must_use]
pub fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0usize;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        let mut normal = String::with_capacity(line.len());
        for word in line
            .split(|c: char| c == ' ' || c == '\t' || c == '\u{a0}' || c == '\r')
            .filter(|w| !w.is_empty())
        {
            if !normal.is_empty() {
                normal.push(' ');
            }
            normal.push_str(word);
        }
        if normal.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run > 0 {
                out.push('\n');
            }
        }
        blank_run = 0;
        out.push_str(&normal);
    }
    out
}

/// Normalises a subject for comparison: all whitespace folded to single spaces and trimmed.
#[must_use]
pub fn normalize_subject(subject: &str) -> String {
    subject.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The key two unpaired events must share to be taken for the same meeting on a first sync:
/// the subject normalised and lower-cased, and the canonical time.
#[must_use]
pub fn pairing_key(event: &Event) -> (String, EventTime) {
    (
        normalize_subject(&event.subject).to_lowercase(),
        event.time.canonical(),
    )
}

/// A stable 64-bit hasher (FxHash-style multiply-rotate over 8-byte words, with a final
/// avalanche). Not cryptographic: it detects change, it does not authenticate.
#[derive(Debug, Clone, Copy, Default)]
pub struct StableHasher {
    state: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl StableHasher {
    /// A hasher in its initial state.
    #[must_use]
    pub fn new() -> Self {
        Self { state: 0 }
    }

    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for StableHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
        // Length terminates the input so that "ab" + "c" differs from "a" + "bc".
        self.mix(bytes.len() as u64);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // murmur3 finaliser
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        h
    }
}

/// A [`BuildHasher`] for [`StableHasher`], fast for hash maps keyed by ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct StableBuildHasher;

impl BuildHasher for StableBuildHasher {
    type Hasher = StableHasher;

    fn build_hasher(&self) -> StableHasher {
        StableHasher::new()
    }
}

fn hash_str(tag: u8, s: &str) -> u64 {
    let mut h = StableHasher::new();
    h.write_u8(tag);
    h.write(s.as_bytes());
    h.finish()
}

/// The fingerprint of one field value in its normalised form.
#[must_use]
pub fn field_fingerprint(value: &FieldValue) -> u64 {
    let tag = value.field() as u8;
    match value {
        FieldValue::Subject(s) => hash_str(tag, &normalize_subject(s)),
        FieldValue::Location(s) => hash_str(tag, &normalize_subject(s)),
        FieldValue::Body(b) => hash_str(tag, &normalize_text(b.plain_text())),
        FieldValue::Time(t) => {
            let mut h = StableHasher::new();
            h.write_u8(tag);
            match t.canonical() {
                EventTime::Timed { start, end, .. } => {
                    h.write_u8(0);
                    h.write_u64(start.timestamp() as u64);
                    h.write_u64(end.timestamp() as u64);
                }
                EventTime::AllDay { start, end } => {
                    h.write_u8(1);
                    h.write(start.to_string().as_bytes());
                    h.write(end.to_string().as_bytes());
                }
            }
            h.finish()
        }
        FieldValue::ShowAs(s) => hash_str(tag, &format!("{s:?}")),
        FieldValue::Private(b) | FieldValue::Cancelled(b) => hash_str(tag, if *b { "1" } else { "0" }),
        FieldValue::Related(link) => {
            let what = link.what.as_ref().map(|i| i.as_str()).unwrap_or("");
            let who = link.who.as_ref().map(|i| i.as_str()).unwrap_or("");
            hash_str(tag, &format!("{what}|{who}"))
        }
        FieldValue::SnapFields(map) => {
            // serde_json writes a BTreeMap in key order, so this is canonical.
            hash_str(tag, &serde_json::to_string(map).unwrap_or_default())
        }
    }
}

/// The fingerprint of every synced field of one event, in [`Field::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldHashes(pub [u64; Field::COUNT]);

impl FieldHashes {
    /// The fingerprints of `event`'s fields.
    #[must_use]
    pub fn of(event: &Event) -> Self {
        let mut out = [0u64; Field::COUNT];
        for field in Field::ALL {
            out[field.index()] = field_fingerprint(&event.get(field));
        }
        Self(out)
    }

    /// One field's fingerprint.
    #[must_use]
    pub fn get(&self, field: Field) -> u64 {
        self.0[field.index()]
    }

    /// Sets one field's fingerprint.
    pub fn set(&mut self, field: Field, hash: u64) {
        self.0[field.index()] = hash;
    }

    /// One fingerprint for the whole event.
    #[must_use]
    pub fn combined(&self) -> u64 {
        let mut h = StableHasher::new();
        for v in self.0 {
            h.write_u64(v);
        }
        h.finish()
    }
}

impl Event {
    /// A stable fingerprint of the event's synced content (see [`FieldHashes`]).
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        FieldHashes::of(self).combined()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Body, EventTime};
    use chrono::{TimeZone, Utc};

    #[test]
    fn text_normalisation_folds_whitespace_and_line_endings() {
        assert_eq!(normalize_text("  a  b\r\n\r\n\r\nc\t d \n"), "a b\n\nc d");
        assert_eq!(normalize_text("a\u{a0}b"), "a b");
        assert_eq!(normalize_text("\n\n"), "");
    }

    #[test]
    fn html_and_its_text_copy_have_equal_fingerprints() {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut a = Event::new("a", "Demo", EventTime::timed(start, start));
        let mut b = a.clone();
        a.body = Body::html("<html><body><div>Line one</div><div>Line two</div></body></html>", false);
        b.body = Body::text(a.body.plain_text().replace('\n', "\r\n"));
        assert_eq!(FieldHashes::of(&a), FieldHashes::of(&b));
    }

    #[test]
    fn sub_second_and_zone_do_not_matter() {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let a = Event::new("a", "Demo", EventTime::timed(start, start));
        let mut b = a.clone();
        b.time = EventTime::Timed {
            start: start + chrono::Duration::milliseconds(400),
            end: start,
            zone: Some(chrono_tz::Europe::Paris),
        };
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn fingerprints_are_stable_across_builds() {
        // Pinned: changing the hash would make every stored pair look edited.
        assert_eq!(field_fingerprint(&FieldValue::Subject("Pipeline review".into())), 0x1cb6_fef6_f789_6812);
    }
}
