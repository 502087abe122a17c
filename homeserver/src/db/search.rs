//! The full-text index of messages: one interface, SQL per backend.
//!
//! SQLite: the FTS5 table `events_fts` (external content over `events`, keyed by `seq`, kept
//! by triggers). Postgres: the column `events.search_words`, a `tsvector` of the body's
//! [`words`] with their positions, written with the row ([`stored_words`]: by the writer's
//! insert, an edit, an erasure), with the GIN index `events_search_words` over messages that
//! are not deleted. The words are those the highlights find and SQLite's `unicode61` tokenizer
//! makes (maximal runs of Unicode letters and digits, lower-cased), in any database locale;
//! queries name the same words as `tsquery` lexemes ([`tsquery`]). Until the migration
//! `2026-12-22-000001_search_words_by_the_writer` Postgres computed the column itself
//! (`to_tsvector('simple', hearth_search_text(body))`, the same words folded by ICU) inside the
//! writers' turn, a third of each insert's time there (issue 23); rows stored before it keep
//! what Postgres computed. Either way the entries change in the transaction of the rows they
//! cover, so edits re-index the latest body and deletes, rotation and channel deletion remove
//! entries.
//!
//! Order: by relevance (SQLite's `bm25`, Postgres's `ts_rank`), then newest first (`seq`
//! descending), among the [`CANDIDATES`] newest matches the user may read. A page continues
//! after the last `(score, seq)` of the previous one, and only events up to the first page's
//! `snapshot` seq are searched, so pages never repeat a result.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text};

use super::events::{readable_sql, window_sql, windows};
use super::models::EventRow;
use super::prepared::{prepared, Statement};
use super::schema::events;
use super::{Conn, DbConn};

/// A parsed search: the index query and the filters, all optional but the query.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The terms (words or phrases), each a list of lower-case tokens, all required.
    pub terms: Vec<Term>,
    /// Only this room.
    pub room_id: Option<i64>,
    /// Only from this sender handle (`nick@server`).
    pub sender: Option<String>,
    /// Only messages with attachments.
    pub has_attachment: bool,
    /// Only messages with an `http://` or `https://` link.
    pub has_link: bool,
    /// Only messages sent strictly before this time (unix ms).
    pub before_ms: Option<i64>,
    /// Only messages sent strictly after this time (unix ms).
    pub after_ms: Option<i64>,
}

/// One term of a query: a word or a "phrase", as the user typed it and as tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The text as typed (a phrase without its quotes).
    pub raw: String,
    /// Its words: maximal runs of alphanumeric characters, lower-cased.
    pub tokens: Vec<String>,
}

/// Where a page starts: after `(score, seq)`, among events up to `snapshot`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// The newest `seq` searched (the log's end when the first page was asked for).
    pub snapshot: i64,
    /// The last result's score and seq, `None` on the first page.
    pub after: Option<(f64, i64)>,
}

/// One hit: the event's `seq` and its score (lower is more relevant).
#[derive(Debug, Clone, Copy, PartialEq, QueryableByName)]
pub struct Hit {
    /// The event.
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    /// Lower is better: SQLite's `bm25`, or minus Postgres's `ts_rank`.
    #[diesel(sql_type = Double)]
    pub score: f64,
}

/// The words of a text: maximal runs of alphanumeric characters, lower-cased, with their
/// `[start, end)` in characters. What the index stores on both backends and what highlights
/// match.
pub fn words(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(String, usize)> = None;
    let mut index = 0;
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            match &mut current {
                Some((word, _)) => word.extend(ch.to_lowercase()),
                None => current = Some((ch.to_lowercase().collect(), index)),
            }
        } else if let Some((word, start)) = current.take() {
            out.push((word, start, index));
        }
        index += 1;
    }
    if let Some((word, start)) = current {
        out.push((word, start, index));
    }
    out
}

/// The kinds of event search finds (and that have stored words on Postgres).
pub const SEARCHED_KINDS: [&str; 3] = ["message", "action", "notice"];

/// Longest lexeme Postgres stores, in bytes: longer words are left out, as `to_tsvector` does.
const LEXEME_MAX_BYTES: usize = 2046;
/// Highest word position Postgres stores; later words share it, as in `to_tsvector`.
const POSITION_MAX: usize = 16_383;
/// Most positions Postgres keeps per lexeme.
const POSITIONS_PER_LEXEME: usize = 256;
/// Longest `tsvector` text written (Postgres refuses one of a megabyte): words past it are
/// left out. Far above any body a send accepts.
const VECTOR_MAX_BYTES: usize = 900_000;

/// Postgres: the `events.search_words` of an event of `kind` with `body`, as `tsvector` input
/// text (`'word':1,4 'other':2`); `None` for kinds search never finds.
pub fn stored_words(kind: &str, body: &str) -> Option<String> {
    if !SEARCHED_KINDS.contains(&kind) {
        return None;
    }
    let mut positions: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, (word, _, _)) in words(body).into_iter().enumerate() {
        if word.len() > LEXEME_MAX_BYTES {
            continue;
        }
        let at = positions.entry(word).or_default();
        if at.len() < POSITIONS_PER_LEXEME {
            at.push((i + 1).min(POSITION_MAX));
        }
    }
    let mut text = String::new();
    for (word, at) in positions {
        if text.len() + word.len() > VECTOR_MAX_BYTES {
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push('\'');
        text.push_str(&word.replace('\\', "\\\\").replace('\'', "''"));
        text.push_str("':");
        let at: Vec<String> = at.iter().map(usize::to_string).collect();
        text.push_str(&at.join(","));
    }
    Some(text)
}

/// Postgres: writes the `search_words` of the event `id` for its new `body` (an edit). A
/// no-op on SQLite, whose triggers keep the index.
pub fn store_words_of(conn: &mut Conn, id: &str, kind: &str, body: &str) -> QueryResult<()> {
    if let DbConn::Postgres(c) = conn {
        prepared("UPDATE events SET search_words = $1::text::tsvector WHERE id = $2")
            .bind::<Nullable<Text>, _>(stored_words(kind, body))
            .bind::<Text, _>(id)
            .execute(c)?;
    }
    Ok(())
}

/// Postgres: removes the words of the event `id` and its edits (the message was erased). A
/// no-op on SQLite, whose triggers keep the index.
pub fn forget_words_of(conn: &mut Conn, id: &str) -> QueryResult<()> {
    if let DbConn::Postgres(c) = conn {
        prepared(
            "UPDATE events SET search_words = NULL \
             WHERE (id = $1 OR (target = $2 AND kind = 'edit')) AND search_words IS NOT NULL",
        )
        .bind::<Text, _>(id)
        .bind::<Text, _>(id)
        .execute(c)?;
    }
    Ok(())
}

/// Postgres: writes the `search_words` of every searched event that has none (the events a
/// migration copied), a thousand at a time. Returns how many were written.
pub fn fill_words(conn: &mut diesel::pg::PgConnection) -> QueryResult<usize> {
    #[derive(QueryableByName)]
    struct Unindexed {
        #[diesel(sql_type = BigInt)]
        seq: i64,
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Text)]
        body: String,
    }
    let mut after = i64::MIN;
    let mut written = 0;
    loop {
        let rows: Vec<Unindexed> = prepared(
            "SELECT seq, kind, body FROM events WHERE seq > $1 AND search_words IS NULL \
             AND kind IN ('message', 'action', 'notice') AND NOT deleted ORDER BY seq LIMIT 1000",
        )
        .bind::<BigInt, _>(after)
        .load(conn)?;
        let Some(last) = rows.last() else {
            return Ok(written);
        };
        after = last.seq;
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let vectors: Vec<Option<String>> = rows
            .iter()
            .map(|r| stored_words(&r.kind, &r.body))
            .collect();
        written += prepared(
            "UPDATE events SET search_words = w.words::tsvector \
             FROM unnest($1::bigint[], $2::text[]) AS w(seq, words) WHERE events.seq = w.seq",
        )
        .bind::<diesel::sql_types::Array<BigInt>, _>(seqs)
        .bind::<diesel::sql_types::Array<Nullable<Text>>, _>(vectors)
        .execute(conn)?;
    }
}

/// The FTS5 query: every term as a quoted string of its tokens (so no user text can be FTS
/// syntax), all required.
pub fn fts5_query(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.tokens.join(" ")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The `tsquery` text: every term as its tokens, each a quoted lexeme (quotes and backslashes
/// escaped, so no user text can be tsquery syntax), the tokens of a phrase joined by `<->`
/// (followed by), all terms required. The tokens are [`words`], as the index stores them: the
/// text is cast to `tsquery` as it is, not parsed again by the database's text search parser.
pub fn tsquery(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| {
            let lexemes: Vec<String> = t
                .tokens
                .iter()
                .map(|w| format!("'{}'", w.replace('\\', "\\\\").replace('\'', "''")))
                .collect();
            format!("({})", lexemes.join(" <-> "))
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

const MESSAGE_KINDS: &str = "e.kind IN ('message', 'action', 'notice')";

/// The filters shared by both backends (not the windows); `p` renders bind parameter `n`.
fn filters(p: fn(u32) -> String, link: &str) -> String {
    format!(
        "AND ({room} IS NULL OR e.room_id = {room}) \
         AND ({sender} IS NULL OR e.sender = {sender}) \
         AND ({att} = FALSE OR (e.attachments IS NOT NULL AND e.attachments <> '[]')) \
         AND ({has_link} = FALSE OR e.body {link} '%http://%' OR e.body {link} '%https://%') \
         AND ({before} IS NULL OR e.ts_ms < {before}) \
         AND ({after} IS NULL OR e.ts_ms > {after})",
        room = p(3),
        sender = p(4),
        att = p(5),
        has_link = p(6),
        before = p(7),
        after = p(8),
    )
}

/// Most matches ranked per search: the newest ones the user may read. Ranking costs per match
/// (Postgres computes each body's `tsvector` again), so a word found in most messages would
/// otherwise cost a pass over the whole log; with the cap a search stays in milliseconds.
pub const CANDIDATES: i64 = 5_000;

fn sqlite_sql() -> String {
    let p = |n: u32| format!("?{n}");
    format!(
        "SELECT seq, score FROM (\
           SELECT e.seq AS seq, bm25(events_fts) AS score \
           FROM events_fts JOIN events e ON e.seq = events_fts.rowid \
           WHERE events_fts MATCH ?2 AND {MESSAGE_KINDS} AND e.deleted = 0 \
           AND e.seq <= ?9 {filters} AND {readable} \
           ORDER BY events_fts.rowid DESC LIMIT {CANDIDATES}\
         ) WHERE ?10 IS NULL OR score > ?10 OR (score = ?10 AND seq < ?11) \
         ORDER BY score ASC, seq DESC LIMIT ?12",
        filters = filters(p, "LIKE"),
        readable = readable_sql(&p(1)),
    )
}

/// Postgres: one branch per delivery window of the user, each walking its room newest first
/// through `events_room_seq` (or reading the GIN index `events_search_words` for a rare word,
/// as the planner finds cheaper with the word's statistics) until it has [`CANDIDATES`]
/// matches; the newest [`CANDIDATES`] of all branches are ranked by `ts_rank` on the stored
/// `search_words`. A single scan of the log filtered by an `EXISTS` over the windows let the
/// planner walk the whole log for a common word (it cannot know which windows hold the newest
/// rows): seconds over a million messages, against tens of milliseconds this way
/// (BENCHMARKS.md). Parameters: `$1` the tsquery, `$2`..`$7` the filters, `$8` `$9` the
/// position, `$10` the limit.
fn postgres_sql(windows: &[(i64, i64, i64)], snapshot: i64) -> String {
    // The filters' parameters 3 to 8 are `$2` to `$7` here (no user id parameter).
    let p = |n: u32| {
        let ty = match n {
            4 => "text",
            5 | 6 => "boolean",
            _ => "bigint",
        };
        format!("${}::{ty}", n - 1)
    };
    let filters = filters(p, "ILIKE");
    let branches: Vec<String> = windows
        .iter()
        .filter(|(_, from, _)| *from <= snapshot)
        .map(|&(room, from, to)| {
            format!(
                "(SELECT e.seq, e.search_words FROM events e \
                  WHERE {window} \
                  AND e.search_words @@ $1::tsquery \
                  AND {MESSAGE_KINDS} AND NOT e.deleted {filters} \
                  ORDER BY e.room_id DESC, e.seq DESC LIMIT {CANDIDATES})",
                window = window_sql(room, from, to, snapshot),
            )
        })
        .collect();
    format!(
        "SELECT seq, score FROM (\
           SELECT c.seq AS seq, \
             (-ts_rank(c.search_words, $1::tsquery))::float8 AS score \
           FROM (\
             SELECT seq, search_words FROM ({branches}) u ORDER BY seq DESC LIMIT {CANDIDATES}\
           ) c\
         ) r WHERE $8::float8 IS NULL OR score > $8::float8 OR (score = $8::float8 AND seq < $9::bigint) \
         ORDER BY score ASC, seq DESC LIMIT $10::bigint",
        branches = branches.join(" UNION ALL "),
    )
}

/// The user's hits for `query` from `position`, best first, at most `limit`.
pub fn search(
    conn: &mut Conn,
    user_id: &str,
    query: &SearchQuery,
    position: Position,
    limit: i64,
) -> QueryResult<Vec<Hit>> {
    if query.terms.is_empty() {
        return Ok(Vec::new());
    }
    let (after_score, after_seq) = match position.after {
        Some((score, seq)) => (Some(score), seq),
        None => (None, i64::MAX),
    };
    let windows = match conn {
        DbConn::Postgres(_) => {
            let mut all = windows(conn, user_id)?;
            if let Some(room) = query.room_id {
                all.retain(|(r, _, _)| *r == room);
            }
            all
        }
        DbConn::Sqlite(_) => Vec::new(),
    };
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sqlite_sql())
            .bind::<Text, _>(user_id)
            .bind::<Text, _>(fts5_query(&query.terms))
            .bind::<Nullable<BigInt>, _>(query.room_id)
            .bind::<Nullable<Text>, _>(query.sender.as_deref())
            .bind::<Bool, _>(query.has_attachment)
            .bind::<Bool, _>(query.has_link)
            .bind::<Nullable<BigInt>, _>(query.before_ms)
            .bind::<Nullable<BigInt>, _>(query.after_ms)
            .bind::<BigInt, _>(position.snapshot)
            .bind::<Nullable<Double>, _>(after_score)
            .bind::<BigInt, _>(after_seq)
            .bind::<BigInt, _>(limit)
            .load::<Hit>(c),
        DbConn::Postgres(c) => {
            if !windows
                .iter()
                .any(|(_, from, _)| *from <= position.snapshot)
            {
                return Ok(Vec::new());
            }
            diesel::sql_query(postgres_sql(&windows, position.snapshot))
                .bind::<Text, _>(tsquery(&query.terms))
                .bind::<Nullable<BigInt>, _>(query.room_id)
                .bind::<Nullable<Text>, _>(query.sender.as_deref())
                .bind::<Bool, _>(query.has_attachment)
                .bind::<Bool, _>(query.has_link)
                .bind::<Nullable<BigInt>, _>(query.before_ms)
                .bind::<Nullable<BigInt>, _>(query.after_ms)
                .bind::<Nullable<Double>, _>(after_score)
                .bind::<BigInt, _>(after_seq)
                .bind::<BigInt, _>(limit)
                .load::<Hit>(c)
        }
    }
}

/// Stored events by `seq`, in the order of `seqs` (missing ones skipped).
pub fn by_seqs(conn: &mut Conn, seqs: &[i64]) -> QueryResult<Vec<EventRow>> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<EventRow> = events::table
        .filter(events::seq.eq_any(seqs))
        .select(EventRow::as_select())
        .load(conn)?;
    let mut by_seq: std::collections::HashMap<i64, EventRow> =
        rows.into_iter().map(|r| (r.seq, r)).collect();
    Ok(seqs.iter().filter_map(|s| by_seq.remove(s)).collect())
}

/// Up to `limit` messages (not deleted) of a room next to `seq`: before it (newest first,
/// `seq` in `[bound, seq)`) when `before`, else after it (oldest first, in `(seq, bound]`).
/// The range is a row comparison on `(room_id, seq)` and the order is by both, so only the
/// index `events_room_seq` serves it (see [`window_sql`]).
pub fn messages_near(
    conn: &mut Conn,
    room_id: i64,
    bound_or_seq: i64,
    seq_or_bound: i64,
    before: bool,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    use diesel::dsl::sql;
    let kinds = ["message", "action", "notice"];
    let (low, low_op, high, high_op) = if before {
        (bound_or_seq, ">=", seq_or_bound, "<")
    } else {
        (bound_or_seq, ">", seq_or_bound, "<=")
    };
    let range = sql::<Bool>(&format!("(room_id, seq) {low_op} ("))
        .bind::<BigInt, _>(room_id)
        .sql(", ")
        .bind::<BigInt, _>(low)
        .sql(&format!(") AND (room_id, seq) {high_op} ("))
        .bind::<BigInt, _>(room_id)
        .sql(", ")
        .bind::<BigInt, _>(high)
        .sql(")");
    let query = events::table
        .filter(range)
        .filter(events::kind.eq_any(kinds))
        .filter(events::deleted.eq(false))
        .select(EventRow::as_select())
        .limit(limit)
        .into_boxed();
    if before {
        query
            .order((events::room_id.desc(), events::seq.desc()))
            .load(conn)
    } else {
        query
            .order((events::room_id.asc(), events::seq.asc()))
            .load(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_words_are_the_bodys_words_with_their_positions() {
        assert_eq!(
            stored_words("message", "Hello, hello WORLD! mum@Example.org").as_deref(),
            Some("'example':5 'hello':1,2 'mum':4 'org':6 'world':3")
        );
        assert_eq!(
            stored_words("action", "Grüße aus KÖLN").as_deref(),
            Some("'aus':2 'grüße':1 'köln':3")
        );
        assert_eq!(stored_words("notice", " — ").as_deref(), Some(""));
        for kind in ["reaction", "edit", "join", "topic"] {
            assert_eq!(stored_words(kind, "hello"), None, "{kind}");
        }
    }

    #[test]
    fn stored_words_keep_to_what_postgres_accepts() {
        // A word Postgres cannot store is left out, as `to_tsvector` leaves it out.
        let long = "x".repeat(LEXEME_MAX_BYTES + 1);
        assert_eq!(
            stored_words("message", &format!("a {long} b")).as_deref(),
            Some("'a':1 'b':3")
        );
        // Positions stop at Postgres's highest, and a lexeme keeps at most its 256 first.
        let many = "w ".repeat(20_000);
        let text = stored_words("message", &many).unwrap_or_default();
        let positions: Vec<&str> = text.trim_start_matches("'w':").split(',').collect();
        assert_eq!(positions.len(), POSITIONS_PER_LEXEME);
        assert_eq!(positions.last(), Some(&"256"));
        let late = format!("{}z", "w ".repeat(POSITION_MAX + 10));
        let text = stored_words("message", &late).unwrap_or_default();
        assert!(text.starts_with("'w':1,2,"), "{}", &text[..20]);
        assert!(
            text.ends_with(&format!("'z':{POSITION_MAX}")),
            "{}",
            &text[text.len() - 20..]
        );
    }

    #[test]
    fn searched_kinds_are_the_ones_the_sql_filters() {
        for kind in SEARCHED_KINDS {
            assert!(MESSAGE_KINDS.contains(&format!("'{kind}'")), "{kind}");
        }
        assert_eq!(
            MESSAGE_KINDS.matches('\'').count(),
            2 * SEARCHED_KINDS.len()
        );
    }
}
