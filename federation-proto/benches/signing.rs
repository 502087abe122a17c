//! Throughput of canonical JSON, event signing and verification on one core.
//!
//! `cargo bench -p federation-proto` (a plain binary, `harness = false`). Each row runs its
//! operation over the same 1,000 realistic events five times and reports the best round, so
//! that noise from other processes on the machine counts as little as possible.

use std::hint::black_box;
use std::time::{Duration, Instant};

use federation_proto::canonical::{parse_strict, to_canonical_bytes};
use federation_proto::signing::{
    hash_and_sign_event, sign_request, verify_event, verify_events_batch, verify_request, KeyId,
    KnownKey, ServerKeyPair, DEFAULT_MAX_SKEW_MS,
};
use serde_json::{json, Value};

const EVENTS: usize = 1_000;
const ROUNDS: usize = 5;
const NOW: u64 = 1_770_667_200_000;

fn main() {
    let Ok(key_id) = KeyId::ed25519("bench") else {
        eprintln!("bad key id");
        return;
    };
    let pair = ServerKeyPair::from_seed(key_id, [11; 32]);
    let public = pair.verifying_key();
    let lookup = move |server: &str, _: &KeyId| {
        (server == "hs1.example").then_some(KnownKey {
            key: public,
            expired_ts: None,
        })
    };

    let unsigned: Vec<Value> = (0..EVENTS).map(event).collect();
    let mut signed = unsigned.clone();
    for e in &mut signed {
        if let Err(err) = hash_and_sign_event(e, "hs1.example", &pair) {
            eprintln!("signing failed: {err}");
            return;
        }
    }
    let texts: Vec<Vec<u8>> = signed
        .iter()
        .map(|e| to_canonical_bytes(e).unwrap_or_default())
        .collect();
    let avg_len = texts.iter().map(Vec::len).sum::<usize>() / EVENTS;
    if verify_events_batch(&signed, &lookup, NOW)
        .iter()
        .any(Result::is_err)
    {
        eprintln!("verification failed");
        return;
    }

    println!("{EVENTS} events, average {avg_len} bytes of canonical JSON; best of {ROUNDS} rounds, one thread");
    println!();
    println!("| operation | per item | items/s |");
    println!("|---|---:|---:|");

    row("parse_strict (wire bytes → Value)", EVENTS, || {
        for t in &texts {
            let _ = black_box(parse_strict(black_box(t)));
        }
    });
    row("canonicalise (Value → canonical bytes)", EVENTS, || {
        for e in &signed {
            let _ = black_box(to_canonical_bytes(black_box(e)));
        }
    });
    row("canonicalise + hash + sign event", EVENTS, || {
        for e in &unsigned {
            let mut e = e.clone();
            let _ = black_box(hash_and_sign_event(&mut e, "hs1.example", &pair));
        }
    });
    row(
        "verify event (checks + hash + verify_strict)",
        EVENTS,
        || {
            for e in &signed {
                let _ = black_box(verify_event(black_box(e), &lookup, NOW));
            }
        },
    );
    row(
        "batch verify 1,000 events (verify_events_batch)",
        EVENTS,
        || {
            let _ = black_box(verify_events_batch(black_box(&signed), &lookup, NOW));
        },
    );
    row("parse_strict + verify event", EVENTS, || {
        for t in &texts {
            if let Ok(v) = parse_strict(black_box(t)) {
                let _ = black_box(verify_event(&v, &lookup, NOW));
            }
        }
    });
    let body = br#"{"txn_id":"t1","origin":"hs1.example","events":[]}"#;
    let uri = "/api/v1/federation/relay";
    row("sign request", EVENTS, || {
        for i in 0..EVENTS as u64 {
            let _ = black_box(sign_request(
                "POST",
                uri,
                "hs1.example",
                "hs2.example",
                NOW + i,
                body,
                &pair,
            ));
        }
    });
    let Ok(auth) = sign_request("POST", uri, "hs1.example", "hs2.example", NOW, body, &pair) else {
        eprintln!("request signing failed");
        return;
    };
    row("verify request", EVENTS, || {
        for _ in 0..EVENTS {
            let _ = black_box(verify_request(
                &auth,
                "POST",
                uri,
                body,
                "hs2.example",
                NOW,
                DEFAULT_MAX_SKEW_MS,
                &public,
            ));
        }
    });
}

fn event(i: usize) -> Value {
    json!({
        "id": format!("0192f1d6-8c1e-7a4e-9b1a-{i:012x}"),
        "seq": i,
        "ts": "2026-02-09T20:00:00.000Z",
        "from": "alice@hs1.example",
        "to": "#general@hs1.example",
        "type": "message",
        "body": format!("Message number {i}: the quick brown fox jumps over the lazy dog. Ünïcödé ✓ — {}", "x".repeat(i % 200)),
        "meta": {"client": "hearth-cli", "mentions": ["bob@hs2.example"], "n": i}
    })
}

/// Runs `f` (which processes `items` items) `ROUNDS` times and prints the best round.
fn row(name: &str, items: usize, mut f: impl FnMut()) {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed());
    }
    let per_item = best.as_secs_f64() / items as f64;
    println!(
        "| {name} | {:.1} µs | {:.0} |",
        per_item * 1e6,
        1.0 / per_item
    );
}
