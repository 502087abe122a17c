//! Property tests of canonical JSON, signing and verification.

use federation_proto::canonical::{parse_strict, to_canonical_string, MAX_SAFE_INTEGER};
use federation_proto::keydoc::KeyDocument;
use federation_proto::signing::{
    hash_and_sign_event, sign_json, verify_event, verify_json_signature, KeyId, KnownKey,
    RequestAuth, ServerKeyPair,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Map, Value};

const NOW: u64 = 1_770_667_200_000;

fn pair() -> ServerKeyPair {
    match KeyId::ed25519("p1") {
        Ok(id) => ServerKeyPair::from_seed(id, [5; 32]),
        Err(e) => panic!("{e}"),
    }
}

fn lookup(server: &str, key_id: &KeyId) -> Option<KnownKey> {
    (server == "hs1.example" && key_id.as_str() == "ed25519:p1").then(|| KnownKey {
        key: pair().verifying_key(),
        expired_ts: None,
    })
}

/// Any value in the canonical domain: safe integers, arbitrary Unicode strings.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Writes `value` as JSON text with object members in an order drawn from `order`, random
/// white space and needless `\u` escapes: a different text for the same value.
fn scramble(value: &Value, order: &mut impl Iterator<Item = usize>, out: &mut String) {
    let ws = |order: &mut dyn Iterator<Item = usize>, out: &mut String| {
        out.push_str([" ", "", "\n\t", "\r\n  "][order.next().unwrap_or(0) % 4]);
    };
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // Fisher-Yates with the drawn numbers.
            for i in (1..members.len()).rev() {
                members.swap(i, order.next().unwrap_or(0) % (i + 1));
            }
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(order, out);
                write_string_escaped(k, order.next().unwrap_or(0).is_multiple_of(2), out);
                ws(order, out);
                out.push(':');
                scramble(v, order, out);
            }
            ws(order, out);
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                scramble(v, order, out);
            }
            ws(order, out);
            out.push(']');
        }
        Value::String(s) => {
            write_string_escaped(s, order.next().unwrap_or(0).is_multiple_of(2), out)
        }
        other => {
            ws(order, out);
            out.push_str(&other.to_string());
        }
    }
}

/// Writes a JSON string, optionally escaping every non-ASCII character as `\u` (with
/// surrogate pairs), which is valid but never canonical.
fn write_string_escaped(s: &str, escape_all: bool, out: &mut String) {
    if !escape_all {
        out.push_str(&Value::String(s.to_owned()).to_string());
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
    out.push('"');
}

fn signed_event(body: String, meta: Value) -> Value {
    let mut event = json!({
        "id": "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b",
        "ts": "2026-02-09T20:00:00.000Z",
        "from": "alice@hs1.example",
        "to": "#general@hs1.example",
        "type": "message",
        "body": body,
        "meta": meta,
    });
    if let Err(e) = hash_and_sign_event(&mut event, "hs1.example", &pair()) {
        panic!("signing failed: {e}");
    }
    event
}

/// Replaces the value at a random path inside `value` (a top-level member or deeper) with
/// `replacement`, unless equal; returns whether anything changed.
fn mutate(value: &mut Value, pick: &mut impl Iterator<Item = usize>, replacement: &Value) -> bool {
    let descend = !pick.next().unwrap_or(0).is_multiple_of(3);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[pick.next().unwrap_or(0) % keys.len()];
            match map.get_mut(key) {
                Some(child) if descend && (child.is_object() || child.is_array()) => {
                    mutate(child, pick, replacement)
                }
                Some(child) if child != replacement => {
                    *child = replacement.clone();
                    true
                }
                _ => false,
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = pick.next().unwrap_or(0) % items.len();
            match items.get_mut(i) {
                Some(child) if descend && (child.is_object() || child.is_array()) => {
                    mutate(child, pick, replacement)
                }
                Some(child) if child != replacement => {
                    *child = replacement.clone();
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn canonical_form_is_stable_under_reparse(value in arb_json()) {
        let canonical = to_canonical_string(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let reparsed = parse_strict(canonical.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&reparsed, &value);
        prop_assert_eq!(to_canonical_string(&reparsed).ok(), Some(canonical));
    }

    #[test]
    fn canonical_form_ignores_member_order_and_spelling(
        value in arb_json(),
        order in prop::collection::vec(any::<usize>(), 64),
    ) {
        let mut text = String::new();
        scramble(&value, &mut order.into_iter().cycle(), &mut text);
        let parsed = parse_strict(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(to_canonical_string(&parsed).ok(), to_canonical_string(&value).ok());
    }

    #[test]
    fn any_change_after_signing_an_event_fails(
        body in any::<String>(),
        meta in prop::collection::btree_map("[a-z]{1,4}", arb_json(), 0..4),
        replacement in arb_json(),
        pick in prop::collection::vec(any::<usize>(), 16),
    ) {
        let mut event = signed_event(body, Value::Object(meta.into_iter().collect()));
        prop_assert!(verify_event(&event, &lookup, NOW).is_ok());
        // Change something covered by the signature: anything but `signatures`.
        let signatures = event.as_object_mut().and_then(|m| m.remove("signatures"));
        let changed = mutate(&mut event, &mut pick.into_iter().cycle(), &replacement);
        if let (Some(map), Some(sigs)) = (event.as_object_mut(), signatures) {
            map.insert("signatures".into(), sigs);
        }
        prop_assume!(changed);
        prop_assert!(verify_event(&event, &lookup, NOW).is_err(), "{}", event);
    }

    #[test]
    fn any_change_after_sign_json_fails(
        value in prop::collection::btree_map("[a-z]{1,3}", arb_json(), 1..6),
        replacement in arb_json(),
        pick in prop::collection::vec(any::<usize>(), 16),
    ) {
        let mut obj = Value::Object(value.into_iter().collect::<Map<String, Value>>());
        sign_json(&mut obj, "hs1.example", &pair()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let key = pair().verifying_key();
        prop_assert!(verify_json_signature(&obj, "hs1.example", pair().key_id(), &key).is_ok());
        let signatures = obj.as_object_mut().and_then(|m| m.remove("signatures"));
        let changed = mutate(&mut obj, &mut pick.into_iter().cycle(), &replacement);
        if let (Some(map), Some(sigs)) = (obj.as_object_mut(), signatures) {
            map.insert("signatures".into(), sigs);
        }
        prop_assume!(changed);
        prop_assert!(verify_json_signature(&obj, "hs1.example", pair().key_id(), &key).is_err());
    }

    #[test]
    fn parse_and_verify_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(value) = parse_strict(&bytes) {
            let _ = verify_event(&value, &lookup, NOW);
            let _ = KeyDocument::verify_self_signed_value(&value, NOW);
            let _ = federation_proto::signing::verify_envelope(&value, &lookup, NOW);
        }
        let _ = RequestAuth::parse_header(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn flipped_bytes_never_verify_a_different_event(
        flips in prop::collection::vec((any::<Index>(), any::<u8>()), 1..4),
    ) {
        let event = signed_event("hello".into(), json!({"k": [1, "x"]}));
        let text = to_canonical_string(&event).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut bytes = text.into_bytes();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(value) = parse_strict(&bytes) {
            if verify_event(&value, &lookup, NOW).is_ok() {
                let mut a = value.clone();
                let mut b = event.clone();
                for v in [&mut a, &mut b] {
                    if let Some(m) = v.as_object_mut() {
                        m.remove("signatures");
                    }
                }
                prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn auth_header_round_trips(
        origin in "[a-z0-9.:-]{1,30}",
        destination in any::<String>(),
        ts in 0u64..=9_007_199_254_740_991,
        sig in "[A-Za-z0-9+/]{0,86}",
    ) {
        let Ok(key_id) = KeyId::ed25519("a_1") else { return Err(TestCaseError::fail("key id")) };
        let auth = RequestAuth { origin, destination, key_id, ts, sig };
        prop_assert_eq!(RequestAuth::parse_header(&auth.to_header()), Ok(auth));
    }

    #[test]
    fn auth_header_parser_never_panics(text in any::<String>()) {
        let _ = RequestAuth::parse_header(&text);
        let _ = RequestAuth::parse_header(&format!("X-Hearth {text}"));
    }
}

mod emoji {
    use federation_proto::event::{validate_emoji, EMOJI_MAX_BYTES, EMOJI_MAX_CHARS};
    use proptest::prelude::*;

    const SYMBOLS: [&str; 8] = ["👍", "❤️", "🎉", "🇫🇷", "👨‍👩‍👧", "★", "✔", "🙂"];

    proptest! {
        /// Whatever is accepted is short, and never carries text: no letters, digits (outside
        /// keycaps), white space or control characters.
        #[test]
        fn accepted_reactions_are_short_symbols(s in any::<String>()) {
            if validate_emoji(&s).is_ok() {
                prop_assert!(s.chars().count() <= EMOJI_MAX_CHARS && s.len() <= EMOJI_MAX_BYTES);
                prop_assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()));
                prop_assert!(!s.chars().any(|c| c.is_alphabetic()));
            }
        }

        /// An emoji with any text added is refused.
        #[test]
        fn text_next_to_an_emoji_is_refused(i in 0..SYMBOLS.len(), text in "[a-zA-Z0-9 ]{1,3}", before in any::<bool>()) {
            let s = if before { format!("{text}{}", SYMBOLS[i]) } else { format!("{}{text}", SYMBOLS[i]) };
            prop_assert!(validate_emoji(&s).is_err(), "{s:?}");
        }

        /// Short runs of emoji are accepted while within the limits.
        #[test]
        fn runs_of_emoji_within_limits(picks in prop::collection::vec(0..SYMBOLS.len(), 1..4)) {
            let s: String = picks.iter().map(|i| SYMBOLS[*i]).collect();
            let within = s.chars().count() <= EMOJI_MAX_CHARS && s.len() <= EMOJI_MAX_BYTES;
            prop_assert_eq!(validate_emoji(&s).is_ok(), within, "{:?}", s);
        }
    }
}
