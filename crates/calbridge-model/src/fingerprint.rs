//! Canonical comparison: a normalised form per field and stable fingerprints.
//!
//! Two sides never hold byte-identical events: Outlook adds HTML around the body, Salesforce
//! drops sub-second precision, one side writes `\r\n` where the other writes `\n`. Each synced
//! field therefore has a normalised form, and what calbridge compares (and stores) is a
//! 64-bit fingerprint of that form. The hash is calbridge's own and fixed, so fingerprints
//! written to a state file stay comparable across versions of Rust and of calbridge.

use std::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};

use chrono::Datelike;

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
            .split([' ', '\t', '\u{a0}', '\r'])
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

/// Whether [`normalize_subject`] would return `s` unchanged: no whitespace but single
/// spaces between words.
fn is_normal_subject(s: &str) -> bool {
    let mut after_space = true; // a leading space is not normal
    for c in s.chars() {
        if c == ' ' {
            if after_space {
                return false;
            }
            after_space = true;
        } else if c.is_whitespace() {
            return false;
        } else {
            after_space = false;
        }
    }
    !after_space || s.is_empty()
}

/// Whether [`normalize_text`] would return `text` unchanged: lines of words separated by
/// single spaces, at most one blank line in a row, none first or last.
fn is_normal_text(text: &str) -> bool {
    if text.contains(['\t', '\u{a0}', '\r']) {
        return false;
    }
    if text.starts_with('\n') || text.ends_with('\n') || text.contains("\n\n\n") {
        return false;
    }
    text.split('\n')
        .all(|line| !line.starts_with(' ') && !line.ends_with(' ') && !line.contains("  "))
}

/// The name a [`ShowAs`](crate::ShowAs) value is fingerprinted by (its `Debug` form).
fn show_as_name(s: crate::ShowAs) -> &'static str {
    match s {
        crate::ShowAs::Free => "Free",
        crate::ShowAs::Tentative => "Tentative",
        crate::ShowAs::Busy => "Busy",
        crate::ShowAs::OutOfOffice => "OutOfOffice",
        crate::ShowAs::WorkingElsewhere => "WorkingElsewhere",
    }
}

/// A borrowed view of one field's value, so that fingerprints need no clones.
#[derive(Debug, Clone, Copy)]
enum FieldRef<'a> {
    Subject(&'a str),
    Time(&'a EventTime),
    Location(&'a str),
    Body(&'a crate::Body),
    ShowAs(crate::ShowAs),
    Private(bool),
    Cancelled(bool),
    Related(&'a crate::RecordLink),
    SnapFields(&'a crate::SnapFields),
}

impl FieldValue {
    fn as_ref(&self) -> FieldRef<'_> {
        match self {
            Self::Subject(s) => FieldRef::Subject(s),
            Self::Time(t) => FieldRef::Time(t),
            Self::Location(s) => FieldRef::Location(s),
            Self::Body(b) => FieldRef::Body(b),
            Self::ShowAs(v) => FieldRef::ShowAs(*v),
            Self::Private(v) => FieldRef::Private(*v),
            Self::Cancelled(v) => FieldRef::Cancelled(*v),
            Self::Related(l) => FieldRef::Related(l),
            Self::SnapFields(m) => FieldRef::SnapFields(m),
        }
    }
}

impl Event {
    fn field_ref(&self, field: Field) -> FieldRef<'_> {
        match field {
            Field::Subject => FieldRef::Subject(&self.subject),
            Field::Time => FieldRef::Time(&self.time),
            Field::Location => FieldRef::Location(&self.location),
            Field::Body => FieldRef::Body(&self.body),
            Field::ShowAs => FieldRef::ShowAs(self.show_as),
            Field::Private => FieldRef::Private(self.is_private()),
            Field::Cancelled => FieldRef::Cancelled(self.cancelled),
            Field::Related => FieldRef::Related(&self.link),
            Field::SnapFields => FieldRef::SnapFields(&self.snap_fields),
        }
    }

    /// The fingerprint of one of this event's fields (equal to
    /// [`field_fingerprint`] of [`Event::get`], without copying the value).
    #[must_use]
    pub fn field_hash(&self, field: Field) -> u64 {
        hash_ref(field, self.field_ref(field))
    }
}

/// The fingerprint of one field value in its normalised form.
#[must_use]
pub fn field_fingerprint(value: &FieldValue) -> u64 {
    hash_ref(value.field(), value.as_ref())
}

fn hash_ref(field: Field, value: FieldRef<'_>) -> u64 {
    let tag = field as u8;
    match value {
        // Most values are already in normal form: hashed as they are, without a copy.
        FieldRef::Subject(s) | FieldRef::Location(s) => {
            if is_normal_subject(s) {
                hash_str(tag, s)
            } else {
                hash_str(tag, &normalize_subject(s))
            }
        }
        FieldRef::Body(b) => {
            let text = b.plain_text();
            if is_normal_text(text) {
                hash_str(tag, text)
            } else {
                hash_str(tag, &normalize_text(text))
            }
        }
        FieldRef::Time(t) => {
            let mut h = StableHasher::new();
            h.write_u8(tag);
            match t {
                EventTime::Timed { start, end, .. } => {
                    h.write_u8(0);
                    h.write_u64(start.timestamp() as u64);
                    h.write_u64(end.timestamp() as u64);
                }
                EventTime::AllDay { start, end } => {
                    h.write_u8(1);
                    h.write_u64(i64::from(start.num_days_from_ce()) as u64);
                    h.write_u64(i64::from(end.num_days_from_ce()) as u64);
                }
            }
            h.finish()
        }
        FieldRef::ShowAs(s) => hash_str(tag, show_as_name(s)),
        FieldRef::Private(b) | FieldRef::Cancelled(b) => hash_str(tag, if b { "1" } else { "0" }),
        FieldRef::Related(link) if !link.is_related() => hash_str(tag, "|"),
        FieldRef::Related(link) => {
            let what = link.what.as_ref().map(|i| i.as_str()).unwrap_or("");
            let who = link.who.as_ref().map(|i| i.as_str()).unwrap_or("");
            hash_str(tag, &format!("{what}|{who}"))
        }
        FieldRef::SnapFields(map) => {
            if map.is_empty() {
                return hash_str(tag, "");
            }
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
            out[field.index()] = event.field_hash(field);
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
    fn normal_forms_are_recognised_exactly() {
        let samples = [
            "",
            " ",
            "a",
            "a b",
            "a  b",
            " a",
            "a ",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\nb",
            "a\n\nb",
            "a\n\n\nb",
            "\na",
            "a\n",
            "a\r\nb",
            "a \nb",
            "a\n b",
            "\n",
            "\n\n",
            "x\n \ny",
            "Agenda: one, two.\n\nBring numbers.",
        ];
        for s in samples {
            assert_eq!(
                is_normal_subject(s),
                normalize_subject(s) == s,
                "subject {s:?}"
            );
            assert_eq!(is_normal_text(s), normalize_text(s) == s, "text {s:?}");
        }
        for v in [
            crate::ShowAs::Free,
            crate::ShowAs::Tentative,
            crate::ShowAs::Busy,
            crate::ShowAs::OutOfOffice,
            crate::ShowAs::WorkingElsewhere,
        ] {
            assert_eq!(show_as_name(v), format!("{v:?}"));
        }
    }

    #[test]
    fn html_and_its_text_copy_have_equal_fingerprints() {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut a = Event::new("a", "Demo", EventTime::timed(start, start));
        let mut b = a.clone();
        a.body = Body::html(
            "<html><body><div>Line one</div><div>Line two</div></body></html>",
            false,
        );
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
    fn event_field_hash_equals_value_fingerprint() {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut e = Event::new("a", " Demo  call ", EventTime::timed(start, start));
        e.body = Body::html("<p>x</p>", true);
        e.snap_fields
            .insert("Type".into(), serde_json::json!("Call"));
        for field in Field::ALL {
            assert_eq!(
                e.field_hash(field),
                field_fingerprint(&e.get(field)),
                "{field}"
            );
        }
        let day = EventTime::all_day(start.date_naive(), start.date_naive().succ_opt().unwrap());
        assert_ne!(
            field_fingerprint(&FieldValue::Time(day)),
            e.field_hash(Field::Time)
        );
    }

    #[test]
    fn fingerprints_are_stable_across_builds() {
        // Pinned: changing the hash would make every stored pair look edited.
        assert_eq!(
            field_fingerprint(&FieldValue::Subject("Pipeline review".into())),
            0x1cb6_fef6_f789_6812
        );
    }
}
