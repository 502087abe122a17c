//! Diesel table definitions, written by hand to match `migrations/sqlite` and
//! `migrations/postgres` (same tables, same names). Integer columns are all BIGINT (`i64`).

diesel::table! {
    users (id) {
        id -> Text,
        nick -> Text,
        password_hash -> Text,
        created_ms -> BigInt,
        last_active_ms -> BigInt,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        name -> Text,
        created_ms -> BigInt,
        last_seen_ms -> BigInt,
        cursor -> BigInt,
    }
}

diesel::table! {
    rooms (id) {
        id -> BigInt,
        room_key -> Text,
        kind -> Text,
        event_count -> BigInt,
        last_room_seq -> BigInt,
    }
}

diesel::table! {
    channels (room_id) {
        room_id -> BigInt,
        name -> Text,
        topic -> Text,
        topic_set_by -> Nullable<Text>,
        topic_set_ms -> Nullable<BigInt>,
        owner_id -> Text,
        created_ms -> BigInt,
        mode_invite_only -> Bool,
        mode_moderated -> Bool,
        mode_secret -> Bool,
        mode_topic_ops -> Bool,
        mode_no_external -> Bool,
        chan_key -> Nullable<Text>,
        user_limit -> Nullable<BigInt>,
    }
}

diesel::table! {
    members (room_id, user_id) {
        room_id -> BigInt,
        user_id -> Text,
        is_op -> Bool,
        is_voice -> Bool,
        joined_ms -> BigInt,
    }
}

diesel::table! {
    spans (id) {
        id -> BigInt,
        user_id -> Text,
        room_id -> BigInt,
        from_seq -> BigInt,
        to_seq -> BigInt,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        room_id -> BigInt,
        ts_ms -> BigInt,
        sender -> Text,
        sender_id -> Nullable<Text>,
        recipient -> Text,
        kind -> Text,
        body -> Text,
        meta -> Text,
        reply_to -> Nullable<Text>,
        target -> Nullable<Text>,
        room_seq -> Nullable<BigInt>,
        wire -> Nullable<Text>,
        deleted -> Bool,
        attachments -> Nullable<Text>,
    }
}

diesel::table! {
    message_stats (message_id) {
        message_id -> Text,
        edit_count -> BigInt,
        edited_ms -> Nullable<BigInt>,
        reply_count -> BigInt,
        last_reply_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    reactions (message_id, reactor, emoji) {
        message_id -> Text,
        reactor -> Text,
        emoji -> Text,
        event_id -> Text,
        ts_ms -> BigInt,
    }
}

diesel::table! {
    txns (device_id, txn_id) {
        device_id -> Text,
        txn_id -> Text,
        response -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    invites (room_id, user_id) {
        room_id -> BigInt,
        user_id -> Text,
        invited_by -> Text,
        created_ms -> BigInt,
    }
}

diesel::joinable!(devices -> users (user_id));
diesel::joinable!(channels -> rooms (room_id));
diesel::joinable!(members -> users (user_id));
diesel::joinable!(members -> rooms (room_id));
diesel::joinable!(events -> rooms (room_id));

diesel::table! {
    peers (server_name) {
        server_name -> Text,
        url -> Text,
        verify_keys -> Text,
        status -> Text,
        source -> Text,
        directory_seq -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    directory_state (id) {
        id -> BigInt,
        pull_cursor -> BigInt,
        last_pull_ms -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        destination -> Text,
        event_id -> Text,
        payload -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    destinations (server_name) {
        server_name -> Text,
        failures -> BigInt,
        next_retry_ms -> BigInt,
        last_attempt_ms -> Nullable<BigInt>,
        last_success_ms -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_until_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    seen_requests (sig) {
        sig -> Text,
        expires_ms -> BigInt,
    }
}

diesel::table! {
    received_txns (origin, txn_id) {
        origin -> Text,
        txn_id -> Text,
        response -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    remote_members (room_id, handle) {
        room_id -> BigInt,
        handle -> Text,
        server -> Text,
        is_op -> Bool,
        is_voice -> Bool,
        joined_ms -> BigInt,
    }
}

diesel::table! {
    mirrors (room_id) {
        room_id -> BigInt,
        channel -> Text,
        host -> Text,
        host_seq -> BigInt,
        topic -> Text,
        modes -> Text,
        members -> BigInt,
    }
}

diesel::table! {
    remote_invites (room_id, handle) {
        room_id -> BigInt,
        handle -> Text,
        invited_by -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    read_markers (room_id, reader) {
        room_id -> BigInt,
        reader -> Text,
        is_local -> Bool,
        seq -> BigInt,
        event_id -> Text,
        ts_ms -> BigInt,
    }
}

diesel::table! {
    profiles (user_id) {
        user_id -> Text,
        display_name -> Nullable<Text>,
        avatar -> Nullable<Text>,
        status -> Text,
        status_message -> Nullable<Text>,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    channel_settings (room_id) {
        room_id -> BigInt,
        description -> Text,
        set_by -> Nullable<Text>,
        set_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    media (id) {
        id -> Text,
        origin -> Text,
        uploader -> Text,
        uploader_id -> Nullable<Text>,
        filename -> Text,
        size -> BigInt,
        content_type -> Text,
        sha256 -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    pins (room_id, message_id) {
        room_id -> BigInt,
        message_id -> Text,
        pinned_by -> Text,
        event_id -> Text,
        ts_ms -> BigInt,
    }
}

diesel::table! {
    media_refs (media_id, event_id) {
        media_id -> Text,
        event_id -> Text,
        room_id -> BigInt,
    }
}

diesel::table! {
    bans (room_id, mask) {
        room_id -> BigInt,
        mask -> Text,
        set_by -> Text,
        set_ms -> BigInt,
    }
}

diesel::table! {
    mutes (room_id, handle) {
        room_id -> BigInt,
        handle -> Text,
        until_ms -> Nullable<BigInt>,
        set_by -> Text,
        set_ms -> BigInt,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        event_id -> Text,
        ts_ms -> BigInt,
        is_read -> Bool,
    }
}

diesel::table! {
    notification_levels (user_id, room_id) {
        user_id -> Text,
        room_id -> BigInt,
        level -> Text,
    }
}

diesel::table! {
    invite_links (code) {
        code -> Text,
        room_id -> BigInt,
        created_by -> Text,
        created_ms -> BigInt,
        expires_ms -> BigInt,
        max_uses -> Nullable<BigInt>,
        uses -> BigInt,
    }
}

diesel::table! {
    blocks (user_id, blocked) {
        user_id -> Text,
        blocked -> Text,
        ts_ms -> BigInt,
    }
}

diesel::table! {
    account_flags (user_id) {
        user_id -> Text,
        is_admin -> Bool,
        disabled -> Bool,
    }
}

diesel::table! {
    reports (id) {
        id -> Text,
        reporter_id -> Text,
        reporter -> Text,
        event_id -> Text,
        room_id -> BigInt,
        channel -> Nullable<Text>,
        sender -> Text,
        reason -> Text,
        ts_ms -> BigInt,
        status -> Text,
        resolved_by -> Nullable<Text>,
        resolved_ms -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    devices,
    rooms,
    channels,
    members,
    spans,
    events,
    txns,
    invites,
    peers,
    directory_state,
    outbox,
    destinations,
    received_txns,
    seen_requests,
    remote_members,
    mirrors,
    remote_invites,
    message_stats,
    reactions,
    read_markers,
    profiles,
    channel_settings,
    pins,
    media,
    media_refs,
    bans,
    mutes,
    notifications,
    notification_levels,
    invite_links,
    blocks,
    account_flags,
    reports,
);
