//! Hand-written statements that the connection prepares once and afterwards finds by their
//! text.
//!
//! diesel never caches the prepared form of `diesel::sql_query` or `diesel::dsl::sql` (it cannot
//! tell whether their text varies from one run to the next), so every run of one is parsed,
//! analysed and planned again: on Postgres that was most of the server's work for the writer's
//! small statements (its events `INSERT`, the rooms' counters, the rotation's `DELETE`). A
//! [`Prepared`] statement is cached like diesel's own query builder statements, keyed by its
//! text and its parameters' types.
//!
//! The text numbers its parameters `$1`, `$2`, … in the order they appear, each once, and
//! [`Statement::bind`] gives their values in that order. The text is sent with each backend's
//! own placeholders (`$n` on Postgres, `?` on SQLite). Only for literal SQL: every distinct
//! text stays prepared on the connection.

use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// A statement's text, before its parameters are bound.
#[derive(Debug, Clone, Copy)]
pub struct Prepared {
    sql: &'static str,
}

/// A statement with its first parameters bound: `Q` the ones before, `value` the last.
#[derive(Debug, Clone, Copy)]
pub struct Bound<Q, ST, T> {
    query: Q,
    value: T,
    sql_type: PhantomData<ST>,
}

/// The statement `sql` (see the module's notes on its parameters).
pub fn prepared(sql: &'static str) -> Prepared {
    Prepared { sql }
}

/// What a statement knows of its text while it is being bound.
pub trait Statement {
    /// The whole text.
    fn sql(&self) -> &'static str;
    /// How many parameters are bound so far.
    const BOUND: usize;

    /// Binds the next parameter (`$n` with n = [`Self::BOUND`] + 1).
    fn bind<ST, T>(self, value: T) -> Bound<Self, ST, T>
    where
        Self: Sized,
    {
        Bound {
            query: self,
            value,
            sql_type: PhantomData,
        }
    }
}

impl Statement for Prepared {
    fn sql(&self) -> &'static str {
        self.sql
    }
    const BOUND: usize = 0;
}

impl<Q: Statement, ST, T> Statement for Bound<Q, ST, T> {
    fn sql(&self) -> &'static str {
        self.query.sql()
    }
    const BOUND: usize = Q::BOUND + 1;
}

/// Where the text between each parameter and the next lies: `(start, end)` byte offsets, the
/// first before `$1`, the last after the last parameter.
type Segments = Vec<(usize, usize)>;

/// The [`Segments`] of a text.
fn split(sql: &str) -> Segments {
    let bytes = sql.as_bytes();
    let mut segments = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let mut end = i + 1;
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            segments.push((start, i));
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    segments.push((start, bytes.len()));
    segments
}

thread_local! {
    /// [`split`] of each statement text this thread ran, by the text's address and length (the
    /// texts are literals, so few and never freed). diesel walks a statement several times per
    /// run; scanning its text from the start for each parameter each time was a tenth of the
    /// Postgres writer thread's work (15 parameters of the events `INSERT`).
    static SPLITS: RefCell<HashMap<(usize, usize), Segments>> = RefCell::new(HashMap::new());
}

/// The text between the `index`th parameter and the next (the 0th: before the first; empty
/// past the last).
fn segment(sql: &'static str, index: usize) -> &'static str {
    let key = (sql.as_ptr() as usize, sql.len());
    let bounds = SPLITS.with(|splits| {
        splits
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| split(sql))
            .get(index)
            .copied()
    });
    bounds
        .and_then(|(start, end)| sql.get(start..end))
        .unwrap_or("")
}

impl<DB: Backend> QueryFragment<DB> for Prepared {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(segment(self.sql, 0));
        Ok(())
    }
}

impl<DB, Q, ST, T> QueryFragment<DB> for Bound<Q, ST, T>
where
    DB: Backend + HasSqlType<ST>,
    Q: QueryFragment<DB> + Statement,
    T: ToSql<ST, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_bind_param::<ST, T>(&self.value)?;
        out.push_sql(segment(self.query.sql(), Q::BOUND + 1));
        Ok(())
    }
}

impl QueryId for Prepared {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, ST, T> QueryId for Bound<Q, ST, T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared {
    type SqlType = Untyped;
}

impl<Q, ST, T> Query for Bound<Q, ST, T> {
    type SqlType = Untyped;
}

impl<C> RunQueryDsl<C> for Prepared {}
impl<Q, ST, T, C> RunQueryDsl<C> for Bound<Q, ST, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_splits_at_each_numbered_parameter() {
        let sql = "UPDATE t SET a = $1, b = $2 WHERE id = $10 AND c = 'x$'";
        assert_eq!(segment(sql, 0), "UPDATE t SET a = ");
        assert_eq!(segment(sql, 1), ", b = ");
        assert_eq!(segment(sql, 2), " WHERE id = ");
        assert_eq!(segment(sql, 3), " AND c = 'x$'");
        assert_eq!(segment(sql, 4), "");
        assert_eq!(segment("SELECT 1", 0), "SELECT 1");
    }
}
