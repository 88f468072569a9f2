//! Salesforce record ids: the case-safe 18-character suffix, validation of 15/18-character
//! input, and minting of fresh ids.
//!
//! Duplicated from `calbridge-model` on purpose: the testkit must not depend on the code it
//! tests, so a bug in the model's checksum cannot hide behind the emulator agreeing with it.

/// Maps a 5-bit chunk of upper-case flags to the suffix character.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
/// Salesforce's base-62 digit order.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Key prefix of Event records.
pub(crate) const EVENT_PREFIX: &str = "00U";
/// Key prefix of User records.
pub(crate) const USER_PREFIX: &str = "005";
/// Key prefix of Contact records.
pub(crate) const CONTACT_PREFIX: &str = "003";
/// Key prefix of Lead records.
pub(crate) const LEAD_PREFIX: &str = "00Q";
/// Key prefix of (public/resource) Calendar records, a valid OwnerId.
pub(crate) const CALENDAR_PREFIX: &str = "023";
/// Key prefix of the organisation.
pub(crate) const ORG_PREFIX: &str = "00D";

/// The three-character suffix for the first fifteen characters of an id.
fn suffix(first15: &[u8]) -> [u8; 3] {
    let mut out = [b'A'; 3];
    for (chunk, slot) in out.iter_mut().enumerate() {
        let mut bits = 0usize;
        for bit in 0..5 {
            if first15
                .get(chunk * 5 + bit)
                .is_some_and(u8::is_ascii_uppercase)
            {
                bits |= 1 << bit;
            }
        }
        *slot = SUFFIX_ALPHABET[bits & 31];
    }
    out
}

/// Returns the 18-character case-safe form of a 15- or 18-character id, or `None` when the
/// input is not an id (wrong length, a non-alphanumeric character, or an 18-character id whose
/// suffix does not match its first fifteen characters).
///
/// An 18-character id whose suffix is written in lower case is accepted (the suffix is
/// case-insensitive by design); its first fifteen characters are taken as written.
#[must_use]
pub fn salesforce_id_18(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    if (bytes.len() != 15 && bytes.len() != 18) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let computed = suffix(&bytes[..15]);
    if bytes.len() == 18 {
        let given = [
            bytes[15].to_ascii_uppercase(),
            bytes[16].to_ascii_uppercase(),
            bytes[17].to_ascii_uppercase(),
        ];
        if given != computed {
            return None;
        }
    }
    let mut out = String::with_capacity(18);
    out.push_str(&id[..15]);
    out.extend(computed.iter().map(|&b| char::from(b)));
    Some(out)
}

/// Mints the `n`-th id with the given key prefix.
///
/// The serial number is scrambled by a bijection of `0..62^10` so minted ids mix upper and
/// lower case like real ones, which exercises case-sensitivity bugs in callers (an id store
/// that lower-cases 15-character ids would collide).
pub(crate) fn mint(prefix: &str, n: u64) -> String {
    const SPACE: u64 = 839_299_365_868_340_224; // 62^10
    // Odd and not a multiple of 31, hence coprime to 62^10: multiplication is a bijection.
    const MULTIPLIER: u64 = (0x9E37_79B9_7F4A_7C15 % SPACE) | 1;
    let scrambled = ((u128::from(n) * u128::from(MULTIPLIER)) % u128::from(SPACE)) as u64;
    let mut digits = [b'0'; 10];
    let mut v = scrambled;
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(v % 62) as usize];
        v /= 62;
    }
    let mut first15 = String::with_capacity(18);
    first15.push_str(prefix);
    // Two "pod" characters, as in real ids (`00UKe...`).
    first15.push_str("Ke");
    first15.extend(digits.iter().map(|&b| char::from(b)));
    let tail = suffix(first15.as_bytes());
    first15.extend(tail.iter().map(|&b| char::from(b)));
    first15
}

/// Whether `s` looks like an id (right length and alphabet), whatever its suffix: such path
/// segments are read as ids, anything else as an external-id field name.
pub(crate) fn looks_like_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn documented_vectors() {
        for (short, long) in [
            ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
            ("0015Y00002c7g8u", "0015Y00002c7g8uQAA"),
            ("00558000001N0Ke", "00558000001N0KeAAK"),
            ("70130000001tcyI", "70130000001tcyIAAQ"),
            ("001D000000IqhSL", "001D000000IqhSLIAZ"),
            ("AAaAAbbBBBCcCCC", "AAaAAbbBBBCcCCC123"),
            ("a0BA0000000L2ZC", "a0BA0000000L2ZCMA0"),
            ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
        ] {
            assert_eq!(salesforce_id_18(short).as_deref(), Some(long));
            assert_eq!(salesforce_id_18(long).as_deref(), Some(long));
        }
        assert_eq!(salesforce_id_18("001A0000006Vm9rZZZ"), None);
        assert_eq!(salesforce_id_18("001A0000006Vm9!"), None);
        assert_eq!(salesforce_id_18("001"), None);
    }

    #[test]
    fn minted_ids_are_valid_and_distinct() {
        let ids: Vec<String> = (1..500).map(|n| mint(EVENT_PREFIX, n)).collect();
        for id in &ids {
            assert_eq!(id.len(), 18);
            assert!(id.starts_with("00U"));
            assert_eq!(salesforce_id_18(id).as_deref(), Some(id.as_str()));
        }
        let mut dedup = ids.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), ids.len());
        // 15-character forms differ even case-insensitively? Not required, but case must vary.
        assert!(
            ids.iter()
                .any(|id| id[5..15].bytes().any(|b| b.is_ascii_lowercase()))
        );
    }
}
