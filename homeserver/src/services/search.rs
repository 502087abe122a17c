//! Full-text search over what the user may read (DESIGN.md, "Search").
//!
//! The query's words and "phrases" are parsed here ([`parse_terms`]) and handed to the index
//! as quoted text only ([`db::search`]), so no user input is ever index syntax. Results are
//! the user's messages within their delivery windows (the rule of sync,
//! [`db::events::readable_sql`]): their channels, mirrors of channels hosted elsewhere and
//! DMs; a channel left keeps what was sent while they were in it. Deleted messages are not in
//! the index; edited ones are indexed in their latest text.
//!
//! Order: most relevant first (SQLite's `bm25`, Postgres's `ts_rank`), then newest first,
//! among the newest [`db::search::CANDIDATES`] matches the user may read.
//! Highlights are computed here from the terms: `[start, end)` ranges of the body in Unicode
//! characters, matched case-insensitively on whole words (a phrase: consecutive words).

use std::collections::HashMap;

use federation_proto::api::client::{
    Highlight, SearchContext, SearchQuery as SearchParams, SearchResponse, SearchResult,
    SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT,
};
use federation_proto::event::Event;
use federation_proto::ids::{Target, UserHandle};
use federation_proto::time::parse_rfc3339_ms;

use super::accounts::Session;
use super::channels::local_actor;
use super::events::{message_views, reactor_keys};
use crate::db::search::{words, Position, SearchQuery, Term};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest query, in characters.
pub const QUERY_MAX_CHARS: usize = 500;
/// Most terms in a query.
pub const QUERY_MAX_TERMS: usize = 16;
/// Neighbours on each side of a result.
const CONTEXT: i64 = 2;

/// Splits a query into terms: text in double quotes is a phrase (an unclosed quote runs to
/// the end), other text splits at whitespace. Terms without a word are dropped.
pub fn parse_terms(q: &str) -> Vec<Term> {
    let mut raw_terms = Vec::new();
    for (i, part) in q.split('"').enumerate() {
        if i % 2 == 1 {
            raw_terms.push(part.trim().to_string());
        } else {
            raw_terms.extend(part.split_whitespace().map(str::to_string));
        }
    }
    raw_terms
        .into_iter()
        .filter_map(|raw| {
            let tokens: Vec<String> = words(&raw).into_iter().map(|(w, _, _)| w).collect();
            (!tokens.is_empty()).then_some(Term { raw, tokens })
        })
        .collect()
}

/// Where the terms occur in `body`: character ranges of whole words (a phrase's words
/// consecutive), case-insensitive, sorted, overlaps merged.
pub fn highlights(body: &str, terms: &[Term]) -> Vec<Highlight> {
    let body_words = words(body);
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for term in terms {
        let n = term.tokens.len();
        if n == 0 || n > body_words.len() {
            continue;
        }
        for i in 0..=body_words.len() - n {
            let window = &body_words[i..i + n];
            if window.iter().zip(&term.tokens).all(|(w, t)| &w.0 == t) {
                ranges.push((window[0].1, window[n - 1].2));
            }
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<Highlight> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => merged.push(Highlight { start, end }),
        }
    }
    merged
}

/// The opaque `next` cursor: the snapshot, the last score's bits and the last seq, in hex.
fn encode_cursor(snapshot: i64, score: f64, seq: i64) -> String {
    format!("{snapshot:x}.{:x}.{seq:x}", score.to_bits())
}

fn decode_cursor(text: &str) -> Result<Position, ApiError> {
    let bad = || ApiError::bad_request("invalid_cursor", "next is not a cursor of this search");
    let mut parts = text.split('.');
    let (Some(snap), Some(bits), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let snapshot = i64::from_str_radix(snap, 16).map_err(|_| bad())?;
    let score = f64::from_bits(u64::from_str_radix(bits, 16).map_err(|_| bad())?);
    let seq = i64::from_str_radix(seq, 16).map_err(|_| bad())?;
    if !score.is_finite() || snapshot < 0 || seq < 0 {
        return Err(bad());
    }
    Ok(Position {
        snapshot,
        after: Some((score, seq)),
    })
}

fn parse_time(name: &'static str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|t| {
        parse_rfc3339_ms(t)
            .ok()
            .and_then(|ms| i64::try_from(ms).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_time",
                    format!("{name} must be an RFC 3339 time, like 2026-03-01T12:00:00Z"),
                )
            })
    })
    .transpose()
}

/// A validated request: everything but the room of `in`, which needs the database.
struct Request {
    query: SearchQuery,
    target: Option<Target>,
    position: Option<Position>,
    limit: i64,
}

fn validate(state: &AppState, params: SearchParams) -> Result<Request, ApiError> {
    let q = params.q.unwrap_or_default();
    if q.chars().count() > QUERY_MAX_CHARS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("q is longer than {QUERY_MAX_CHARS} characters"),
        ));
    }
    let terms = parse_terms(&q);
    if terms.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "q must contain at least one word",
        ));
    }
    if terms.len() > QUERY_MAX_TERMS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("q has more than {QUERY_MAX_TERMS} words and phrases"),
        ));
    }
    let limit = params.limit.unwrap_or(SEARCH_DEFAULT_LIMIT);
    if !(1..=SEARCH_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1–{SEARCH_MAX_LIMIT}"),
        ));
    }
    let target = params
        .in_
        .as_deref()
        .map(str::parse::<Target>)
        .transpose()?;
    let sender = params
        .from
        .as_deref()
        .map(|f| {
            f.parse::<UserHandle>()
                .map(|h| h.qualified(&state.server_name))
                .map_err(|_| ApiError::bad_request("invalid_from", "from must be a user handle"))
        })
        .transpose()?;
    let (has_attachment, has_link) = match params.has.as_deref() {
        None => (false, false),
        Some("attachment") => (true, false),
        Some("link") => (false, true),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_has",
                "has must be attachment or link",
            ))
        }
    };
    let query = SearchQuery {
        terms,
        room_id: None,
        sender,
        has_attachment,
        has_link,
        before_ms: parse_time("before", params.before.as_deref())?,
        after_ms: parse_time("after", params.after.as_deref())?,
    };
    let position = params.next.as_deref().map(decode_cursor).transpose()?;
    Ok(Request {
        query,
        target,
        position,
        limit: i64::from(limit),
    })
}

/// Up to [`CONTEXT`] readable, not deleted messages on each side of `row` in its room, within
/// the user's window that holds it; oldest first.
fn neighbours(
    conn: &mut Conn,
    user_id: &str,
    room_id: i64,
    seq: i64,
) -> Result<(Vec<db::models::EventRow>, Vec<db::models::EventRow>), ApiError> {
    let Some((from, to)) = db::events::window_of(conn, user_id, room_id, seq)? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut before = db::search::messages_near(conn, room_id, from, seq, true, CONTEXT)?;
    before.reverse();
    let after = db::search::messages_near(conn, room_id, seq, to, false, CONTEXT)?;
    Ok((before, after))
}

/// `GET /api/v1/search`.
#[tracing::instrument(skip_all, fields(user = %session.user_id))]
pub async fn search(
    state: &AppState,
    session: &Session,
    params: SearchParams,
) -> Result<SearchResponse, ApiError> {
    let Request {
        mut query,
        target,
        position,
        limit,
    } = validate(state, params)?;
    let user_id = session.user_id.clone();
    let me = local_actor(state, session).handle().to_string();
    let room = target
        .as_ref()
        .map(|t| super::messages::room_ref(state, t))
        .transpose()?;
    state
        .db
        .run(move |conn| {
            if let Some(room) = &room {
                match room.room_id(conn, &user_id)? {
                    Some(room_id) => query.room_id = Some(room_id),
                    None => {
                        return Ok(SearchResponse {
                            results: Vec::new(),
                            next: None,
                        })
                    }
                }
            }
            let position = match position {
                Some(p) => p,
                None => Position {
                    snapshot: db::events::max_seq(conn)?,
                    after: None,
                },
            };
            // One more than asked: whether there is a next page.
            let mut hits = db::search::search(conn, &user_id, &query, position, limit + 1)?;
            let more = hits.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next = if more {
                hits.last()
                    .map(|h| encode_cursor(position.snapshot, h.score, h.seq))
            } else {
                None
            };
            let keys = reactor_keys(&user_id, &me);
            let seqs: Vec<i64> = hits.iter().map(|h| h.seq).collect();
            let rows = db::search::by_seqs(conn, &seqs)?;
            // Every result and its neighbours: their views in one batch (a few queries), each
            // row once (a result may be another's neighbour).
            let mut unique: Vec<db::models::EventRow> = Vec::new();
            let mut shapes = Vec::with_capacity(rows.len());
            for row in rows {
                let (before, after) = neighbours(conn, &user_id, row.room_id, row.seq)?;
                let seqs_of = |rows: &[db::models::EventRow]| -> Vec<i64> {
                    rows.iter().map(|r| r.seq).collect()
                };
                shapes.push((row.seq, seqs_of(&before), seqs_of(&after)));
                for r in std::iter::once(row).chain(before).chain(after) {
                    if !unique.iter().any(|u| u.seq == r.seq) {
                        unique.push(r);
                    }
                }
            }
            let order: Vec<i64> = unique.iter().map(|r| r.seq).collect();
            let views: HashMap<i64, Event> = order
                .into_iter()
                .zip(message_views(conn, unique, &keys)?)
                .collect();
            let pick = |seqs: &[i64]| -> Vec<Event> {
                seqs.iter().filter_map(|s| views.get(s).cloned()).collect()
            };
            let mut results = Vec::with_capacity(shapes.len());
            for (seq, before, after) in shapes {
                let Some(event) = views.get(&seq).cloned() else {
                    continue;
                };
                results.push(SearchResult {
                    highlights: highlights(&event.body, &query.terms),
                    event,
                    context: SearchContext {
                        before: pick(&before),
                        after: pick(&after),
                    },
                });
            }
            Ok(SearchResponse { results, next })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hl(body: &str, q: &str) -> Vec<(usize, usize)> {
        highlights(body, &parse_terms(q))
            .into_iter()
            .map(|h| (h.start, h.end))
            .collect()
    }

    #[test]
    fn terms_are_words_and_phrases() {
        let terms = parse_terms(r#"  Mum "the  ADDRESS" x"y OR* "#);
        let raw: Vec<&str> = terms.iter().map(|t| t.raw.as_str()).collect();
        assert_eq!(raw, ["Mum", "the  ADDRESS", "x", "y OR*"]);
        assert_eq!(terms[1].tokens, ["the", "address"]);
        assert_eq!(terms[3].tokens, ["y", "or"]);
        assert!(parse_terms(r#" "" * - "#).is_empty());
    }

    #[test]
    fn index_queries_quote_everything() {
        let terms = parse_terms(r#"NEAR(a b) "c' d\" e:*"#);
        assert_eq!(
            db::search::fts5_query(&terms),
            r#""near a" AND "b" AND "c d" AND "e""#
        );
        assert_eq!(
            db::search::tsquery(&terms),
            "('near' <-> 'a') & ('b') & ('c' <-> 'd') & ('e')"
        );
    }

    #[test]
    fn highlights_are_character_ranges() {
        assert_eq!(hl("Grüße aus Köln, KÖLN!", "köln"), [(10, 14), (16, 20)]);
        assert_eq!(hl("日本 東京 tokyo", "東京"), [(3, 5)]);
        assert_eq!(hl("the red house, red roof", "\"red roof\""), [(15, 23)]);
        assert_eq!(hl("redder red", "red"), [(7, 10)]);
        assert_eq!(hl("a b a b", "\"a b\" b"), [(0, 3), (4, 7)]);
        assert!(hl("", "x").is_empty());
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = encode_cursor(42, -1.25e-6, 7);
        assert_eq!(
            decode_cursor(&c).ok(),
            Some(Position {
                snapshot: 42,
                after: Some((-1.25e-6, 7))
            })
        );
        for bad in [
            "",
            "1.2",
            "1.2.3.4",
            "x.0.0",
            "-1.0.0",
            "1.7ff8000000000000.1",
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
