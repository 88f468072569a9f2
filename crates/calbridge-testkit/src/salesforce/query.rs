//! Running SOQL against the Event table: resolving and type-checking the parsed query,
//! filtering, ordering, projecting, and paging results through query locators.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::errors::{RestError, SfError};
use super::ids;
use super::records::render;
use super::schema::{FieldDef, Kind};
use super::soql::{self, Expr, FieldRef, Literal, Op, Query, Select};
use super::state::{Cursor, DEFAULT_PAGE_SIZE, Row, State};
use super::values::Val;

/// Smallest `batchSize` Salesforce honours ([QOPT]).
const MIN_BATCH: usize = 200;

fn located(src: &str, col: usize, message: &str) -> String {
    format!(
        "\n{src}\n{:>width$}\nERROR at Row:1:Column:{col}\n{message}",
        "^",
        width = col
    )
}

/// A WHERE expression with fields resolved and literals converted to stored-value form.
#[derive(Debug)]
enum Filter {
    And(Box<Self>, Box<Self>),
    Or(Box<Self>, Box<Self>),
    Not(Box<Self>),
    Cmp(String, Op, Val),
    In(String, bool, Vec<Val>),
    Like(String, Vec<LikePart>),
}

#[derive(Debug, Clone, PartialEq)]
enum LikePart {
    Char(char),
    One,
    Any,
}

struct Checker<'a> {
    state: &'a State,
    src: &'a str,
}

impl Checker<'_> {
    fn invalid(&self, col: usize, message: &str) -> RestError {
        RestError::bad_request(SfError::new(
            "INVALID_FIELD",
            located(self.src, col, message),
        ))
    }

    fn field(&self, f: &FieldRef) -> Result<&FieldDef, RestError> {
        self.state.schema.get(&f.name).ok_or_else(|| {
            self.invalid(
                f.col,
                &format!(
                    "No such column '{}' on entity 'Event'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                    f.name
                ),
            )
        })
    }

    fn value(&self, f: &FieldRef, def: &FieldDef, lit: &Literal) -> Result<Val, RestError> {
        let must = |what: &str| {
            self.invalid(
                f.col,
                &format!(
                    "value of filter criterion for field '{}' must be of type {what}",
                    def.name
                ),
            )
        };
        Ok(match (&def.kind, lit) {
            (_, Literal::Null) => Val::Null,
            (Kind::Id | Kind::Reference(_), Literal::Str(s)) => match ids::salesforce_id_18(s) {
                Some(id) => Val::Text(id),
                None => {
                    return Err(RestError::bad_request(SfError::new(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        located(self.src, f.col, &format!("invalid ID field: {s}")),
                    )));
                }
            },
            (Kind::Text { .. } | Kind::Picklist { .. }, Literal::Str(s)) => {
                Val::Text(s.replace("\\%", "%").replace("\\_", "_"))
            }
            (Kind::Bool, Literal::Bool(b)) => Val::Bool(*b),
            (Kind::Int, Literal::Num(n)) if n.fract() == 0.0 => Val::Int(*n as i64),
            (Kind::Int | Kind::Num, Literal::Num(n)) => Val::Num(*n),
            (Kind::DateTime, Literal::DateTime(t)) => Val::DateTime(*t),
            (Kind::Date, Literal::Date(d)) => Val::Date(*d),
            (Kind::DateTime, _) => {
                return Err(must("dateTime and should not be enclosed in quotes"));
            }
            (Kind::Date, _) => return Err(must("date and should not be enclosed in quotes")),
            (Kind::Bool, _) => return Err(must("boolean and should not be enclosed in quotes")),
            (Kind::Int | Kind::Num, _) => {
                return Err(must("double and should not be enclosed in quotes"));
            }
            _ => return Err(must("string and should be enclosed in quotes")),
        })
    }

    fn filterable(&self, f: &FieldRef) -> Result<&FieldDef, RestError> {
        let def = self.field(f)?;
        if def.filterable {
            Ok(def)
        } else {
            Err(self.invalid(
                f.col,
                &format!("field '{}' can not be filtered in query call", def.name),
            ))
        }
    }

    fn filter(&self, e: &Expr) -> Result<Filter, RestError> {
        Ok(match e {
            Expr::And(a, b) => Filter::And(Box::new(self.filter(a)?), Box::new(self.filter(b)?)),
            Expr::Or(a, b) => Filter::Or(Box::new(self.filter(a)?), Box::new(self.filter(b)?)),
            Expr::Not(a) => Filter::Not(Box::new(self.filter(a)?)),
            Expr::Cmp(f, op, lit) => {
                let def = self.filterable(f)?;
                Filter::Cmp(def.name.clone(), *op, self.value(f, def, lit)?)
            }
            Expr::In(f, negated, lits) => {
                let def = self.filterable(f)?;
                let vals = lits
                    .iter()
                    .map(|l| self.value(f, def, l))
                    .collect::<Result<_, _>>()?;
                Filter::In(def.name.clone(), *negated, vals)
            }
            Expr::Like(f, pattern) => {
                let def = self.filterable(f)?;
                if !matches!(def.kind, Kind::Text { .. } | Kind::Picklist { .. }) {
                    return Err(
                        self.invalid(f.col, &format!("invalid operator on field '{}'", def.name))
                    );
                }
                Filter::Like(def.name.clone(), like_pattern(pattern))
            }
        })
    }
}

fn like_pattern(p: &str) -> Vec<LikePart> {
    let mut out = Vec::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('%' | '_')) => {
                if let Some(n) = chars.next() {
                    out.push(LikePart::Char(n));
                }
            }
            '%' => out.push(LikePart::Any),
            '_' => out.push(LikePart::One),
            c => out.push(LikePart::Char(c)),
        }
    }
    out
}

fn like_match(pattern: &[LikePart], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((LikePart::Any, rest)) => (0..=text.len()).any(|i| like_match(rest, &text[i..])),
        Some((LikePart::One, rest)) => !text.is_empty() && like_match(rest, &text[1..]),
        Some((LikePart::Char(c), rest)) => {
            text.first()
                .is_some_and(|t| t.to_lowercase().eq(c.to_lowercase()))
                && like_match(rest, &text[1..])
        }
    }
}

fn equal(a: &Val, b: &Val) -> bool {
    a.compare(b) == Some(Ordering::Equal)
}

fn eval(f: &Filter, row: &Row) -> bool {
    match f {
        Filter::And(a, b) => eval(a, row) && eval(b, row),
        Filter::Or(a, b) => eval(a, row) || eval(b, row),
        Filter::Not(a) => !eval(a, row),
        Filter::Cmp(name, op, lit) => {
            let v = row.get(name);
            if lit.is_null() {
                return match op {
                    Op::Eq => v.is_null(),
                    Op::Ne => !v.is_null(),
                    _ => false,
                };
            }
            if v.is_null() {
                // SOQL's `!=` keeps rows whose field is null.
                return *op == Op::Ne;
            }
            match v.compare(lit) {
                Some(o) => match op {
                    Op::Eq => o == Ordering::Equal,
                    Op::Ne => o != Ordering::Equal,
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                },
                None => false,
            }
        }
        Filter::In(name, negated, vals) => {
            let v = row.get(name);
            let hit = vals.iter().any(|x| {
                if x.is_null() {
                    v.is_null()
                } else {
                    equal(&v, x)
                }
            });
            hit != *negated
        }
        Filter::Like(name, pattern) => match row.get(name) {
            Val::Text(s) => like_match(pattern, &s.chars().collect::<Vec<_>>()),
            _ => false,
        },
    }
}

/// Runs `src` and opens a cursor; returns the first page.
pub(crate) fn run(
    state: &mut State,
    version: &str,
    src: &str,
    all_rows: bool,
    batch_size: Option<usize>,
) -> Result<Value, RestError> {
    let parsed = soql::parse(src).map_err(|e| {
        RestError::bad_request(SfError::new(
            "MALFORMED_QUERY",
            located(src, e.col, &e.message),
        ))
    })?;
    let records = evaluate(state, version, src, &parsed, all_rows)?;
    let Some(records) = records else {
        return Ok(
            json!({"totalSize": count_only(state, src, &parsed, all_rows)?, "done": true, "records": []}),
        );
    };
    let page_size = batch_size
        .map_or(DEFAULT_PAGE_SIZE, |b| b.clamp(MIN_BATCH, DEFAULT_PAGE_SIZE))
        .min(state.page_size)
        .max(1);
    let locator = state.mint_id("01g");
    state.cursors.insert(
        locator.clone(),
        Cursor {
            records,
            page_size,
            all_rows,
        },
    );
    page(state, version, &locator, 0)
}

/// Follows a `nextRecordsUrl` tail: `<locator>-<offset>`.
pub(crate) fn next(state: &mut State, version: &str, tail: &str) -> Result<Value, RestError> {
    let invalid = || {
        RestError::bad_request(SfError::new(
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        ))
    };
    let (locator, offset) = tail.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    if !state.cursors.contains_key(locator) {
        return Err(invalid());
    }
    page(state, version, locator, offset)
}

fn page(
    state: &mut State,
    version: &str,
    locator: &str,
    offset: usize,
) -> Result<Value, RestError> {
    let Some(cursor) = state.cursors.get(locator) else {
        return Err(RestError::bad_request(SfError::new(
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )));
    };
    let total = cursor.records.len();
    let start = offset.min(total);
    let end = (start + cursor.page_size).min(total);
    let records: Vec<Value> = cursor.records[start..end].to_vec();
    let done = end >= total;
    let mut body = json!({"totalSize": total, "done": done, "records": records});
    if done {
        // Cursors close once read to the end, as Salesforce's do.
        state.cursors.remove(locator);
    } else {
        let kind = if cursor.all_rows { "queryAll" } else { "query" };
        body["nextRecordsUrl"] = json!(format!("/services/data/{version}/{kind}/{locator}-{end}"));
    }
    Ok(body)
}

/// Resolves, filters, orders and projects; `None` for `SELECT COUNT()`.
fn evaluate(
    state: &State,
    version: &str,
    src: &str,
    q: &Query,
    all_rows: bool,
) -> Result<Option<Vec<Value>>, RestError> {
    let (checker, filter) = check_common(state, src, q)?;
    let Select::Fields(fields) = &q.select else {
        return Ok(None);
    };
    let mut names: Vec<String> = Vec::with_capacity(fields.len());
    for f in fields {
        let name = checker.field(f)?.name.clone();
        if names.contains(&name) {
            return Err(RestError::bad_request(SfError::new(
                "MALFORMED_QUERY",
                located(src, f.col, &format!("duplicate field selected: {name}")),
            )));
        }
        names.push(name);
    }
    let mut order = Vec::with_capacity(q.order.len());
    for item in &q.order {
        let def = checker.field(&item.field)?;
        if !def.filterable {
            return Err(checker.invalid(
                item.field.col,
                &format!("field '{}' can not be sorted in a query call", def.name),
            ));
        }
        // Ids sort by their case-sensitive base-62 value, text case-insensitively.
        let exact = matches!(def.kind, Kind::Id | Kind::Reference(_));
        order.push((def.name.clone(), item.desc, item.nulls_last, exact));
    }
    let mut rows: Vec<&Row> = state
        .rows
        .iter()
        .filter(|r| all_rows || r.deleted.is_none())
        .filter(|r| filter.as_ref().is_none_or(|f| eval(f, r)))
        .collect();
    rows.sort_by(|a, b| {
        for (name, desc, nulls_last, exact) in &order {
            let (va, vb) = (a.get(name), b.get(name));
            let o = match (va.is_null(), vb.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if *nulls_last {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (false, true) => {
                    if *nulls_last {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, false) => {
                    let o = match (exact, &va, &vb) {
                        (true, Val::Text(x), Val::Text(y)) => x.cmp(y),
                        _ => va.compare(&vb).unwrap_or(Ordering::Equal),
                    };
                    if *desc { o.reverse() } else { o }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let skip = q.offset.unwrap_or(0);
    let take = q.limit.unwrap_or(usize::MAX);
    Ok(Some(
        rows.into_iter()
            .skip(skip)
            .take(take)
            .map(|r| render(state, r, version, Some(&names)))
            .collect(),
    ))
}

fn check_common<'a>(
    state: &'a State,
    src: &'a str,
    q: &Query,
) -> Result<(Checker<'a>, Option<Filter>), RestError> {
    let checker = Checker { state, src };
    if !q.from.name.eq_ignore_ascii_case("Event") {
        return Err(RestError::bad_request(SfError::new(
            "INVALID_TYPE",
            located(
                src,
                q.from.col,
                &format!("sObject type '{}' is not supported.", q.from.name),
            ),
        )));
    }
    if q.offset.is_some_and(|o| o > 2000) {
        return Err(RestError::bad_request(SfError::new(
            "NUMBER_OUTSIDE_VALID_RANGE",
            "Maximum SOQL offset allowed is 2000",
        )));
    }
    let filter = q.filter.as_ref().map(|e| checker.filter(e)).transpose()?;
    Ok((checker, filter))
}

fn count_only(state: &State, src: &str, q: &Query, all_rows: bool) -> Result<usize, RestError> {
    let (_, filter) = check_common(state, src, q)?;
    let n = state
        .rows
        .iter()
        .filter(|r| all_rows || r.deleted.is_none())
        .filter(|r| filter.as_ref().is_none_or(|f| eval(f, r)))
        .count();
    Ok(n.saturating_sub(q.offset.unwrap_or(0))
        .min(q.limit.unwrap_or(usize::MAX)))
}
