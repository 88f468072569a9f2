//! Identifier generation: Graph-looking event ids, change keys, iCalUIds, request ids and
//! opaque tokens, plus the small base64 codec they need (kept local so the testkit does not
//! grow a dependency for a dozen lines).

use chrono::{DateTime, Datelike, Utc};

use super::IdStyle;

/// Encodes `bytes` as base64 (standard or URL-safe alphabet), optionally padded.
pub(crate) fn b64(bytes: &[u8], url_safe: bool, pad: bool) -> String {
    crate::crypto::base64(bytes, url_safe, pad)
}

/// Decodes unpadded URL-safe base64; `None` on any foreign character (including the
/// standard alphabet's `+` and `/`, which would make two ids decode alike).
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|c| matches!(c, b'+' | b'/' | b'=')) {
        return None;
    }
    crate::crypto::base64_decode(text)
}

pub(crate) use crate::crypto::sha256;

/// Decodes base64 in either alphabet, padded or not (HTTP Basic credentials).
pub(crate) fn b64_decode_any(text: &str) -> Option<Vec<u8>> {
    crate::crypto::base64_decode(text.trim())
}

/// A small, fast, non-cryptographic generator (SplitMix64): ids only need to be unique and
/// look random, and a local generator keeps the testkit free of a `rand` dependency.
#[derive(Debug)]
pub(crate) struct IdGen {
    state: u64,
    /// How many event ids were minted, to alternate shapes in [`IdStyle::Mixed`].
    minted: u64,
    /// The shape of new event ids.
    pub(crate) style: IdStyle,
}

impl IdGen {
    /// A generator seeded from the wall clock and the emulator's port, so two emulators in
    /// one test process mint different ids.
    pub(crate) fn new(seed: u64) -> Self {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        Self {
            state: seed ^ nanos.unsigned_abs().rotate_left(17),
            minted: 0,
            style: IdStyle::default(),
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    /// An event id shaped like a Graph immutable id (`AAkALg...`). Every id holds at least
    /// one `-` and one `_`; in [`IdStyle::Mixed`] every other id also holds `/`, `+` and a
    /// trailing `=`, so a connector that does not percent-encode path segments breaks.
    pub(crate) fn event_id(&mut self) -> String {
        self.minted += 1;
        let body = b64(&self.bytes(42), true, false);
        let mut chars: Vec<char> = format!("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{body}")
            .chars()
            .collect();
        // Fixed positions past the constant prefix: deterministic, and never at the end, so
        // occurrence ids (master id + suffix) keep the same characters.
        let n = chars.len();
        chars[n - 20] = '_';
        chars[n - 30] = '-';
        if self.style == IdStyle::Mixed && self.minted.is_multiple_of(2) {
            chars[n - 10] = '/';
            chars[n - 25] = '+';
            chars.push('=');
        }
        chars.into_iter().collect()
    }

    /// A change key: 16 random bytes in padded standard base64, as Exchange shows them.
    pub(crate) fn change_key(&mut self) -> String {
        b64(&self.bytes(16), false, true)
    }

    /// A GUID-shaped string (request ids, user ids, trace ids).
    pub(crate) fn guid(&mut self) -> String {
        let b = self.bytes(16);
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// An opaque URL-safe token of `n` random bytes.
    pub(crate) fn token(&mut self, n: usize) -> String {
        b64(&self.bytes(n), true, false)
    }

    /// A series-level iCalUId: the Outlook global-object-id layout, with the instance date
    /// bytes zeroed (occurrences fill them in, see [`occurrence_ical_uid`]).
    pub(crate) fn ical_uid(&mut self) -> String {
        let hex = |b: Vec<u8>| -> String { b.iter().map(|x| format!("{x:02X}")).collect() };
        let stamp = hex(self.bytes(8));
        let guid = hex(self.bytes(16));
        format!("040000008200E00074C5B7101A82E00800000000{stamp}000000000000000010000000{guid}")
    }
}

/// The iCalUId of one occurrence: the series' id with the instance date written into the
/// date bytes, so every occurrence has its own value (graph.md §1.1).
pub(crate) fn occurrence_ical_uid(series_uid: &str, original_start: DateTime<Utc>) -> String {
    let date = format!(
        "{:04X}{:02X}{:02X}",
        original_start.year(),
        original_start.month(),
        original_start.day()
    );
    if series_uid.len() >= 40 && series_uid.is_char_boundary(32) && series_uid.is_char_boundary(40)
    {
        format!("{}{date}{}", &series_uid[..32], &series_uid[40..])
    } else {
        format!("{series_uid}{date}")
    }
}

/// The id of one occurrence: the master's id followed by the original start, so occurrence
/// ids are stable across reads and can be resolved back without storing them.
pub(crate) fn occurrence_id(master_id: &str, original_start: DateTime<Utc>) -> String {
    let mut raw = vec![1u8];
    raw.extend_from_slice(&original_start.timestamp().to_be_bytes());
    format!("{master_id}{}", b64(&raw, true, false))
}

/// Splits an occurrence id produced by [`occurrence_id`] into its master id candidate and
/// original start, without checking that the master exists.
pub(crate) fn split_occurrence_id(id: &str) -> Option<(&str, DateTime<Utc>)> {
    let cut = id.len().checked_sub(12)?;
    if !id.is_char_boundary(cut) {
        return None;
    }
    let (master, suffix) = id.split_at(cut);
    let raw = b64url_decode(suffix)?;
    if raw.len() != 9 || raw[0] != 1 {
        return None;
    }
    let mut secs = [0u8; 8];
    secs.copy_from_slice(&raw[1..]);
    let start = DateTime::from_timestamp(i64::from_be_bytes(secs), 0)?;
    Some((master, start))
}

/// Graph ids are base64-like; anything else is "malformed" (400 `ErrorInvalidIdMalformed`)
/// rather than "not found".
pub(crate) fn looks_like_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'+' | b'/' | b'='))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(b64(b"foobar", false, true), "Zm9vYmFy");
        assert_eq!(b64(b"fooba", false, true), "Zm9vYmE=");
        assert_eq!(b64(b"foob", true, false), "Zm9vYg");
        assert_eq!(b64url_decode("Zm9vYg").unwrap(), b"foob");
    }

    #[test]
    fn sha256_and_s256_challenge_match_python_hashlib() {
        let hex: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let verifier = "dBjftJeZ4CVP-mJ92K9UQQpB9zhzjpxA8cVpbCMq_1w";
        assert_eq!(
            b64(&sha256(verifier.as_bytes()), true, false),
            "9vQ7S16RfPSiu95Hr-TFbLQPRRcfRhOLPkQiUgvUg8c"
        );
        assert_eq!(
            b64_decode_any("YWxhZGRpbjpvcGVuc2VzYW1l").unwrap(),
            b"aladdin:opensesame"
        );
    }

    #[test]
    fn occurrence_ids_round_trip() {
        let mut g = IdGen::new(7);
        g.style = IdStyle::Mixed;
        for _ in 0..4 {
            let master = g.event_id();
            assert!(master.contains('-') && master.contains('_'));
            let t = DateTime::from_timestamp(1_772_355_600, 0).unwrap();
            let occ = occurrence_id(&master, t);
            assert_eq!(split_occurrence_id(&occ), Some((master.as_str(), t)));
        }
    }
}
