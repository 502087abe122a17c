//! Diesel table definitions, written by hand to match `migrations/sqlite`. Integer columns are
//! all BIGINT (`i64`).

diesel::table! {
    servers (name) {
        name -> Text,
        url -> Text,
        verify_keys -> Text,
        status -> Text,
        last_reg_ts -> BigInt,
        last_heartbeat_ms -> BigInt,
        banned -> Bool,
        released -> Bool,
        registered_ms -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    entries (seq) {
        seq -> BigInt,
        server_name -> Text,
        status -> Text,
        ts -> BigInt,
        entry -> Text,
    }
}

diesel::table! {
    peers (name) {
        name -> Text,
        acked_seq -> BigInt,
        failures -> BigInt,
        next_retry_ms -> BigInt,
        last_error -> Nullable<Text>,
        last_success_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::joinable!(peers -> servers (name));
diesel::allow_tables_to_appear_in_same_query!(servers, entries, peers, meta);
