//! Event bodies: plain text, or HTML with the plain text derived from it.

use serde::{Deserialize, Serialize};

/// The body (description, notes) of an event.
///
/// Outlook holds HTML; Salesforce's `Description` holds plain text. Bodies always compare on
/// their normalised plain text, so an HTML body and the text copy made from it are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// HTML, with the plain text derived from it.
    Html {
        /// The markup as the side holds it.
        html: String,
        /// The plain text the markup reads as (see [`html_to_text`]).
        text: String,
        /// The body carries formatting, images or attachments that a plain-text copy would
        /// lose (the "preserve formatting" setting protects such bodies).
        rich: bool,
    },
}

impl Default for Body {
    fn default() -> Self {
        Self::Text {
            text: String::new(),
        }
    }
}

impl Body {
    /// A plain-text body.
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// An HTML body; its text is derived with [`html_to_text`] and it counts as rich when
    /// the markup is formatted (see [`html_is_rich`]) or the event has attachments.
    #[must_use]
    pub fn html(html: impl Into<String>, has_attachments: bool) -> Self {
        let html = html.into();
        let text = html_to_text(&html);
        let rich = has_attachments || html_is_rich(&html);
        Self::Html { html, text, rich }
    }

    /// The plain text of this body.
    #[must_use]
    pub fn plain_text(&self) -> &str {
        match self {
            Self::Text { text } | Self::Html { text, .. } => text,
        }
    }

    /// Whether this body holds formatting, images or attachments.
    #[must_use]
    pub fn is_rich(&self) -> bool {
        matches!(self, Self::Html { rich: true, .. })
    }

    /// Whether the body has no text.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.plain_text().trim().is_empty()
    }
}

/// The longest HTML body converted in full; beyond it the text is taken from a prefix, so a
/// hostile 10 MB body cannot stall a run. Salesforce keeps at most 32,000 characters anyway.
const MAX_HTML_BYTES: usize = 1 << 20;

/// Converts HTML (including Outlook's Word-generated markup) to readable plain text: a real
/// HTML5 parse, no decorations (`**bold**`, link footnotes, strike-through), no table
/// borders, non-breaking spaces as spaces, line endings normalised.
///
/// Strike-through stays plain: html2text would add a combining U+0336 after every character
/// for every enclosing `<s>`, so nested tags made the text grow with their square (12 KB of
/// HTML took a minute and gave 18 MB of text; found by the `html_to_text` fuzz target).
#[must_use]
pub fn html_to_text(html: &str) -> String {
    let mut cut = html.len().min(MAX_HTML_BYTES);
    while !html.is_char_boundary(cut) {
        cut -= 1;
    }
    let html = &html[..cut];
    let rendered = html2text::config::with_decorator(html2text::render::TrivialDecorator::new())
        .no_table_borders()
        .unicode_strikeout(false)
        .string_from_read(html.as_bytes(), 10_000);
    let text = match rendered {
        Ok(text) => text,
        // html2text only fails on I/O or on absurd widths; fall back to stripping tags.
        Err(_) => strip_tags(html),
    };
    let text = text.replace('\u{a0}', " ");
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Tags whose presence means a plain-text copy would lose something the user made.
const RICH_TAGS: &[&str] = &[
    "img",
    "table",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "strike",
    "font",
    "a",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "code",
    "sup",
    "sub",
    "hr",
    "mark",
    "object",
    "video",
    "audio",
    "svg",
];

/// Whether HTML carries formatting or images: any tag from a list of formatting and embedding
/// tags inside the body, or a `style` attribute inside the body. The `<head>` (Outlook always
/// emits a `<style>` block there) does not count, nor do bare `<div>`, `<p>`, `<span>` and
/// `<br>`, which Outlook wraps around plain text.
#[must_use]
pub fn html_is_rich(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    let body = match lower.find("<body") {
        Some(i) => &lower[i..],
        None => lower.as_str(),
    };
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if name == "body" {
            rest = &rest[end..];
            continue;
        }
        if RICH_TAGS.contains(&name.as_str()) {
            return true;
        }
        if tag.contains("style=") {
            return true;
        }
        rest = &rest[end..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `html_to_text` fuzz target: strike-through became combining characters,
    /// one per character per enclosing `<s>`, so nested tags grew the text quadratically.
    #[test]
    fn strike_through_is_plain_text_and_nesting_stays_linear() {
        assert_eq!(
            html_to_text("<p>was <s>$12</s> <del>$11</del> <strike>$9</strike> now $10</p>"),
            "was $12 $11 $9 now $10"
        );
        let nested = format!("{}{}", "<s>".repeat(3000), "x".repeat(3000));
        let started = std::time::Instant::now();
        let text = html_to_text(&nested);
        assert_eq!(text, "x".repeat(3000));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn outlook_plain_wrapper_is_not_rich() {
        let html = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html\"><style>p{margin:0}</style></head><body><div>Agenda: pricing</div></body></html>";
        let body = Body::html(html, false);
        assert!(!body.is_rich());
        assert_eq!(body.plain_text(), "Agenda: pricing");
    }

    #[test]
    fn formatting_images_and_attachments_are_rich() {
        assert!(html_is_rich(
            "<html><body><p><b>Bold</b> move</p></body></html>"
        ));
        assert!(html_is_rich("<body><img src=\"cid:logo\"></body>"));
        assert!(html_is_rich("<body><p style=\"color:red\">x</p></body>"));
        assert!(Body::html("<body>plain</body>", true).is_rich());
    }

    #[test]
    fn text_is_readable_without_decorations() {
        let text = html_to_text(
            "<p>Hello&nbsp;<b>world</b></p><ul><li>one</li><li>two</li></ul><a href=\"https://x.test\">site</a>",
        );
        assert!(text.starts_with("Hello world"), "{text}");
        assert!(!text.contains("**"), "{text}");
        assert!(
            text.contains("one") && text.contains("two") && text.contains("site"),
            "{text}"
        );
    }

    #[test]
    fn scripts_do_not_leak_into_text() {
        let text = html_to_text("<body><script>alert('x')</script><p>safe</p></body>");
        assert!(!text.contains("alert"), "{text}");
        assert!(text.contains("safe"));
    }
}
