//! SOQL built from typed parts: field names are checked to be API names and values are
//! typed literals (ids, instants, booleans, escaped strings), so no input can change a
//! query's shape.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use calbridge_model::SalesforceId;

/// Whether `name` is a Salesforce field API name: a letter, then letters, digits and single
/// underscores, not ending in an underscore (custom fields end in `__c`, whose double
/// underscore is the one allowed), at most 80 characters.
#[must_use]
pub fn is_api_name(name: &str) -> bool {
    let (stem, custom) = match name.strip_suffix("__c") {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    let mut chars = stem.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter
        && name.len() <= 80
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !stem.contains("__")
        && !stem.ends_with('_')
        && (custom || !name.contains("__"))
}

/// Escapes text for a single-quoted SOQL string literal (backslash escapes, as the SOQL
/// reference lists them).
#[must_use]
pub fn escape_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

/// A value in a condition.
#[derive(Debug, Clone, Copy)]
pub enum Literal<'a> {
    /// A record id (always quoted, always a valid id).
    Id(&'a SalesforceId),
    /// An instant, as an unquoted UTC dateTime literal (second precision, as SOQL takes).
    DateTime(DateTime<Utc>),
    /// `true` / `false`.
    Bool(bool),
    /// Text, quoted and escaped.
    Str(&'a str),
}

impl Literal<'_> {
    fn render(self, out: &mut String) {
        match self {
            Self::Id(id) => {
                let _ = write!(out, "'{id}'");
            }
            Self::DateTime(t) => out.push_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            Self::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Self::Str(s) => {
                out.push('\'');
                out.push_str(&escape_str(s));
                out.push('\'');
            }
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// A field name that is not an API name (a programming error: names are checked when the
/// provider is built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Salesforce field API name")]
pub struct BadName(pub String);

/// `SELECT … FROM Event WHERE … AND … ORDER BY … LIMIT …`: the only grammar calbridge sends.
#[derive(Debug, Clone)]
pub struct Select {
    fields: Vec<String>,
    conditions: Vec<String>,
    order_by: Vec<String>,
    limit: Option<u32>,
}

impl Select {
    /// A query of `fields` from `Event`.
    ///
    /// # Errors
    /// [`BadName`] for a field that is not an API name.
    pub fn new<I, S>(fields: I) -> Result<Self, BadName>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names: Vec<String> = Vec::new();
        for field in fields {
            let field = field.into();
            check(&field)?;
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&field)) {
                names.push(field);
            }
        }
        if names.is_empty() {
            return Err(BadName(String::new()));
        }
        Ok(Self {
            fields: names,
            conditions: Vec::new(),
            order_by: Vec::new(),
            limit: None,
        })
    }

    /// Adds `field op value` (conditions are joined with `AND`).
    ///
    /// # Errors
    /// [`BadName`].
    pub fn filter(mut self, field: &str, op: Op, value: Literal<'_>) -> Result<Self, BadName> {
        check(field)?;
        let mut condition = format!("{field} {} ", op.as_str());
        value.render(&mut condition);
        self.conditions.push(condition);
        Ok(self)
    }

    /// Adds `field IN (ids…)`.
    ///
    /// # Errors
    /// [`BadName`].
    pub fn filter_in<'a>(
        mut self,
        field: &str,
        ids: impl IntoIterator<Item = &'a SalesforceId>,
    ) -> Result<Self, BadName> {
        check(field)?;
        let mut condition = format!("{field} IN (");
        for (i, id) in ids.into_iter().enumerate() {
            if i > 0 {
                condition.push_str(", ");
            }
            Literal::Id(id).render(&mut condition);
        }
        condition.push(')');
        self.conditions.push(condition);
        Ok(self)
    }

    /// Adds an ascending sort key.
    ///
    /// # Errors
    /// [`BadName`].
    pub fn order_by(mut self, field: &str) -> Result<Self, BadName> {
        check(field)?;
        self.order_by.push(field.to_owned());
        Ok(self)
    }

    /// Limits the rows returned.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The query text.
    #[must_use]
    pub fn build(&self) -> String {
        let mut q = format!("SELECT {} FROM Event", self.fields.join(", "));
        if !self.conditions.is_empty() {
            q.push_str(" WHERE ");
            q.push_str(&self.conditions.join(" AND "));
        }
        if !self.order_by.is_empty() {
            q.push_str(" ORDER BY ");
            q.push_str(&self.order_by.join(", "));
        }
        if let Some(limit) = self.limit {
            let _ = write!(q, " LIMIT {limit}");
        }
        q
    }
}

fn check(name: &str) -> Result<(), BadName> {
    if is_api_name(name) {
        Ok(())
    } else {
        Err(BadName(name.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names() {
        for good in [
            "Id",
            "Subject",
            "Calbridge_Key__c",
            "Meeting_Outcome__c",
            "X1",
        ] {
            assert!(is_api_name(good), "{good}");
        }
        for bad in [
            "",
            "1Id",
            "Id,Subject",
            "Id FROM User--",
            "a__b",
            "_x",
            "x_",
            "Foo__c__c",
            "Sub ject",
            "Name'",
            "x__",
            "ünïcode",
        ] {
            assert!(!is_api_name(bad), "{bad}");
        }
    }

    #[test]
    fn strings_cannot_break_out() {
        let s = escape_str("O'Brien \\' OR Id != null");
        assert_eq!(s, "O\\'Brien \\\\\\' OR Id != null");
        let q = Select::new(["Id"])
            .unwrap()
            .filter("Subject", Op::Eq, Literal::Str("x' OR Name != '"))
            .unwrap()
            .build();
        assert_eq!(
            q,
            "SELECT Id FROM Event WHERE Subject = 'x\\' OR Name != \\''"
        );
    }

    #[test]
    fn a_window_query() {
        let owner: SalesforceId = "0055Y00000Gd0iOQAR".parse().unwrap();
        let start = "2026-03-01T00:00:00.250Z".parse().unwrap();
        let q = Select::new(["Id", "Subject", "id"])
            .unwrap()
            .filter("OwnerId", Op::Eq, Literal::Id(&owner))
            .unwrap()
            .filter("IsRecurrence", Op::Eq, Literal::Bool(false))
            .unwrap()
            .filter("EndDateTime", Op::Ge, Literal::DateTime(start))
            .unwrap()
            .order_by("StartDateTime")
            .unwrap()
            .limit(10)
            .build();
        assert_eq!(
            q,
            "SELECT Id, Subject FROM Event WHERE OwnerId = '0055Y00000Gd0iOQAR' AND IsRecurrence = false AND EndDateTime >= 2026-03-01T00:00:00Z ORDER BY StartDateTime LIMIT 10"
        );
    }

    #[test]
    fn in_lists_and_bad_names() {
        let a: SalesforceId = "00U000000000001".parse().unwrap();
        let b: SalesforceId = "00U000000000002".parse().unwrap();
        let q = Select::new(["Id"])
            .unwrap()
            .filter_in("Id", [&a, &b])
            .unwrap()
            .build();
        assert_eq!(
            q,
            "SELECT Id FROM Event WHERE Id IN ('00U000000000001EAA', '00U000000000002EAA')"
        );
        assert!(Select::new(["Id, (SELECT Id FROM Contacts)"]).is_err());
        assert!(Select::new(Vec::<String>::new()).is_err());
        assert!(Select::new(["Id"]).unwrap().order_by("Id DESC").is_err());
    }
}
