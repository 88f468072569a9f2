//! Reading HTTP answers defensively.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The first bytes of a body as text, for an error message: at most 200 characters, control
/// characters replaced, so a huge or binary body never floods a log.
#[must_use]
pub fn body_snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(800)];
    let text = String::from_utf8_lossy(cut);
    let mut out: String = text
        .chars()
        .take(200)
        .map(|c| if c.is_control() && c != ' ' { ' ' } else { c })
        .collect();
    if body.len() > out.len() {
        out.push('…');
    }
    out
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date (relative to
/// `now`). Absurd values are capped at an hour.
#[must_use]
pub fn retry_after(headers: &http::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(Duration::from_secs(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            http::header::RETRY_AFTER,
            "Tue, 24 Nov 2026 09:00:30 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(http::header::RETRY_AFTER, "999999".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(3600)));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn snippets_are_short_and_printable() {
        let body = format!("{}\u{0}{}", "x".repeat(10), "y".repeat(1000));
        let s = body_snippet(body.as_bytes());
        assert!(s.chars().count() <= 201);
        assert!(!s.contains('\u{0}'));
        assert_eq!(body_snippet(b"{\"error\":1}"), "{\"error\":1}");
    }
}
