//! A tokenizer and recursive-descent parser for the SOQL subset a calendar connector sends:
//!
//! ```text
//! SELECT field[, field]... | COUNT()
//! FROM Event
//! [WHERE cond [AND|OR cond]...]        cond: field op literal | field [NOT] IN (literal, ...)
//!                                             | field LIKE 'pattern' | NOT cond | (cond)
//! [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST][, ...]]
//! [LIMIT n] [OFFSET n]
//! ```
//!
//! Literals: `'strings'` with backslash escapes, `true`/`false`, `null`, numbers, date
//! literals `2026-03-01` and dateTime literals `2026-03-01T00:00:00Z` / `...+02:00`.
//! Because values are tokens of a parsed grammar, nothing in a string literal can change the
//! query's shape (no injection by construction). Field names are resolved later, against the
//! schema, in `query.rs`.

use chrono::{DateTime, NaiveDate, Utc};

/// A syntax error: column (1-based) and message, reported as `MALFORMED_QUERY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) col: usize,
    pub(crate) message: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A literal value in a WHERE clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    /// Decoded string; `\%` and `\_` stay escaped (they only mean something in LIKE).
    Str(String),
    Num(f64),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
}

/// A field reference with the column where it appeared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldRef {
    pub(crate) name: String,
    pub(crate) col: usize,
}

/// A WHERE expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Self>, Box<Self>),
    Or(Box<Self>, Box<Self>),
    Not(Box<Self>),
    Cmp(FieldRef, Op, Literal),
    In(FieldRef, bool, Vec<Literal>),
    Like(FieldRef, String),
}

/// One ORDER BY item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderItem {
    pub(crate) field: FieldRef,
    pub(crate) desc: bool,
    pub(crate) nulls_last: bool,
}

/// The SELECT list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Select {
    Fields(Vec<FieldRef>),
    Count,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub(crate) select: Select,
    pub(crate) from: FieldRef,
    pub(crate) filter: Option<Expr>,
    pub(crate) order: Vec<OrderItem>,
    pub(crate) limit: Option<usize>,
    pub(crate) offset: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Lit(Literal),
    Op(Op),
    Comma,
    LParen,
    RParen,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    col: usize,
    text: String,
}

fn err<T>(col: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        col,
        message: message.into(),
    })
}

fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = |tok| Token {
            tok,
            col,
            text: c.to_string(),
        };
        match c {
            ',' => out.push(single(Tok::Comma)),
            '(' => out.push(single(Tok::LParen)),
            ')' => out.push(single(Tok::RParen)),
            '=' => out.push(single(Tok::Op(Op::Eq))),
            '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('!', Some('=')) | ('<', Some('>')) => (Op::Ne, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', _) => (Op::Gt, 1),
                    _ => return err(col, format!("unexpected token: '{c}'")),
                };
                out.push(Token {
                    tok: Tok::Op(op),
                    col,
                    text: chars[i..i + len].iter().collect(),
                });
                i += len;
                continue;
            }
            '\'' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return err(col, "unterminated string literal"),
                        Some('\'') => break,
                        Some('\\') => {
                            let decoded = match chars.get(j + 1) {
                                Some('\'') => "'",
                                Some('"') => "\"",
                                Some('\\') => "\\",
                                Some('n') => "\n",
                                Some('r') => "\r",
                                Some('t') => "\t",
                                Some('b') => "\u{8}",
                                Some('f') => "\u{c}",
                                Some('%') => "\\%",
                                Some('_') => "\\_",
                                _ => return err(j + 1, "Invalid string literal: bad escape"),
                            };
                            s.push_str(decoded);
                            j += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            j += 1;
                        }
                    }
                }
                out.push(Token {
                    tok: Tok::Lit(Literal::Str(s)),
                    col,
                    text: chars[i..=j].iter().collect(),
                });
                i = j + 1;
                continue;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let mut j = i + 1;
                while j < chars.len()
                    && (chars[j].is_ascii_alphanumeric()
                        || matches!(chars[j], ':' | '.' | '-' | '+'))
                {
                    j += 1;
                }
                let text: String = chars[i..j].iter().collect();
                out.push(Token {
                    tok: Tok::Lit(number_or_date(&text, col)?),
                    col,
                    text,
                });
                i = j;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while j < chars.len()
                    && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '_' | '.'))
                {
                    j += 1;
                }
                let text: String = chars[i..j].iter().collect();
                out.push(Token {
                    tok: Tok::Ident(text.clone()),
                    col,
                    text,
                });
                i = j;
                continue;
            }
            other => return err(col, format!("unexpected token: '{other}'")),
        }
        i += 1;
    }
    Ok(out)
}

fn number_or_date(text: &str, col: usize) -> Result<Literal, SyntaxError> {
    let b = text.as_bytes();
    let date_shaped = b.len() >= 10 && b[4] == b'-' && b[7] == b'-';
    if date_shaped && b.len() > 10 {
        // dateTime literals must carry Z or an offset: SOQL has no naive dateTime.
        return DateTime::parse_from_rfc3339(text)
            .map(|t| Literal::DateTime(t.with_timezone(&Utc)))
            .or_else(|_| {
                err(
                    col,
                    format!("line 1:{col} no viable alternative at character '{text}'"),
                )
            });
    }
    if date_shaped {
        return NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Literal::Date)
            .or_else(|_| err(col, format!("unexpected token: '{text}'")));
    }
    text.parse::<f64>()
        .map(Literal::Num)
        .or_else(|_| err(col, format!("unexpected token: '{text}'")))
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    end_col: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    fn unexpected<T>(&self) -> Result<T, SyntaxError> {
        match self.peek() {
            Some(t) => err(t.col, format!("unexpected token: '{}'", t.text)),
            None => err(self.end_col, "unexpected token: '<EOF>'"),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(s), .. }) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SyntaxError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.unexpected()
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let hit = self.peek().is_some_and(|t| &t.tok == tok);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), SyntaxError> {
        if self.eat(tok) {
            Ok(())
        } else {
            self.unexpected()
        }
    }

    fn field(&mut self) -> Result<FieldRef, SyntaxError> {
        const RESERVED: [&str; 17] = [
            "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT",
            "OFFSET", "ASC", "DESC", "NULLS", "TRUE", "FALSE",
        ];
        match self.peek() {
            Some(Token {
                tok: Tok::Ident(name),
                col,
                ..
            }) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
                && !name.eq_ignore_ascii_case("null") =>
            {
                let f = FieldRef {
                    name: name.clone(),
                    col: *col,
                };
                self.pos += 1;
                Ok(f)
            }
            _ => self.unexpected(),
        }
    }

    fn literal(&mut self) -> Result<Literal, SyntaxError> {
        let lit = match self.peek().map(|t| &t.tok) {
            Some(Tok::Lit(l)) => l.clone(),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("null") => Literal::Null,
            _ => return self.unexpected(),
        };
        self.pos += 1;
        Ok(lit)
    }

    fn usize_literal(&mut self) -> Result<usize, SyntaxError> {
        let col = self.col();
        match self.literal()? {
            Literal::Num(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e12 => Ok(n as usize),
            _ => err(col, "expecting a non-negative integer"),
        }
    }

    fn or_expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.and_expr()?;
        while self.eat_kw("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.unary()?;
        while self.eat_kw("AND") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.eat_kw("NOT") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat(&Tok::LParen) {
            let inner = self.or_expr()?;
            self.expect(&Tok::RParen)?;
            return Ok(inner);
        }
        let field = self.field()?;
        if let Some(Token {
            tok: Tok::Op(op), ..
        }) = self.peek()
        {
            let op = *op;
            self.pos += 1;
            return Ok(Expr::Cmp(field, op, self.literal()?));
        }
        let negated = self.eat_kw("NOT");
        if self.eat_kw("IN") {
            self.expect(&Tok::LParen)?;
            let mut values = vec![self.literal()?];
            while self.eat(&Tok::Comma) {
                values.push(self.literal()?);
            }
            self.expect(&Tok::RParen)?;
            return Ok(Expr::In(field, negated, values));
        }
        if !negated && self.eat_kw("LIKE") {
            let col = self.col();
            return match self.literal()? {
                Literal::Str(p) => Ok(Expr::Like(field, p)),
                _ => err(col, "LIKE needs a string pattern"),
            };
        }
        self.unexpected()
    }

    fn query(&mut self) -> Result<Query, SyntaxError> {
        self.expect_kw("SELECT")?;
        let select = if self.is_kw("COUNT")
            && self
                .toks
                .get(self.pos + 1)
                .is_some_and(|t| t.tok == Tok::LParen)
        {
            self.pos += 2;
            self.expect(&Tok::RParen)?;
            Select::Count
        } else {
            let mut fields = vec![self.field()?];
            while self.eat(&Tok::Comma) {
                fields.push(self.field()?);
            }
            Select::Fields(fields)
        };
        self.expect_kw("FROM")?;
        let from = self.field()?;
        let filter = if self.eat_kw("WHERE") {
            Some(self.or_expr()?)
        } else {
            None
        };
        let mut order = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let field = self.field()?;
                let desc = if self.eat_kw("DESC") {
                    true
                } else {
                    self.eat_kw("ASC");
                    false
                };
                // Salesforce's defaults: ASC sorts nulls first, DESC nulls last.
                let mut nulls_last = desc;
                if self.eat_kw("NULLS") {
                    if self.eat_kw("LAST") {
                        nulls_last = true;
                    } else {
                        self.expect_kw("FIRST")?;
                        nulls_last = false;
                    }
                }
                order.push(OrderItem {
                    field,
                    desc,
                    nulls_last,
                });
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        let limit = if self.eat_kw("LIMIT") {
            Some(self.usize_literal()?)
        } else {
            None
        };
        let offset = if self.eat_kw("OFFSET") {
            Some(self.usize_literal()?)
        } else {
            None
        };
        if self.peek().is_some() {
            return self.unexpected();
        }
        Ok(Query {
            select,
            from,
            filter,
            order,
            limit,
            offset,
        })
    }
}

/// Parses one SOQL statement.
pub(crate) fn parse(src: &str) -> Result<Query, SyntaxError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end_col: src.chars().count() + 1,
    };
    p.query()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_the_connector_window_query() {
        let q = parse(
            "SELECT Id, Subject FROM Event WHERE OwnerId = '005xx0000012345AAA' \
             AND StartDateTime < 2025-10-01T00:00:00Z AND EndDateTime >= 2025-09-01T00:00:00+02:00 \
             AND Id IN ('00UKe000002rCdsMAE') AND ActivityDate = 2025-09-24 AND IsChild = false \
             ORDER BY StartDateTime DESC NULLS FIRST, Id LIMIT 10",
        )
        .unwrap();
        assert!(matches!(q.select, Select::Fields(ref f) if f.len() == 2));
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.order.len(), 2);
        assert!(q.order[0].desc && !q.order[0].nulls_last);
    }

    #[test]
    fn string_literals_cannot_escape() {
        let q = parse(r"SELECT Id FROM Event WHERE Subject = 'x\' OR Subject != \'y'").unwrap();
        match q.filter.unwrap() {
            Expr::Cmp(f, Op::Eq, Literal::Str(s)) => {
                assert_eq!(f.name, "Subject");
                assert_eq!(s, "x' OR Subject != 'y");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_queries_report_a_column() {
        let e = parse("SELECT Id FRM Event").unwrap_err();
        assert_eq!(e.col, 11);
        assert!(parse("SELECT Id FROM Event WHERE").is_err());
        assert!(parse("SELECT Id FROM Event WHERE Subject = 'open").is_err());
        assert!(parse("SELECT Id FROM Event WHERE StartDateTime > 2025-10-01T00:00:00").is_err());
        assert!(parse("SELECT Id FROM Event LIMIT -1").is_err());
        assert!(parse("SELECT COUNT() FROM Event").is_ok());
    }
}
