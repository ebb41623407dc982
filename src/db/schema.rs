// Shared by SQLite and PostgreSQL. Ids are BigInt on both (SQLite integers are 64-bit);
// times are UTC `Timestamp`s.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        email -> Text,
        password_hash -> Text,
        active -> Bool,
        integration -> Bool,
        failed_logins -> Integer,
        first_failed_at -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    roles (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        builtin -> Bool,
    }
}

diesel::table! {
    user_roles (user_id, role_id) {
        user_id -> BigInt,
        role_id -> BigInt,
    }
}

diesel::table! {
    sessions (key_hash) {
        key_hash -> Text,
        user_id -> Nullable<BigInt>,
        login_id -> Nullable<Text>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        prefix -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        actor_name -> Text,
        client_ip -> Text,
        action -> Text,
        target -> Text,
        outcome -> Text,
        detail -> Text,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    connections (id) {
        id -> BigInt,
        name -> Text,
        app_type -> Text,
        environment -> Text,
        base_url -> Text,
        headers -> Text,
        timeout_ms -> Integer,
        verify_tls -> Bool,
        auth_kind -> Text,
        auth_username -> Text,
        auth_domain -> Text,
        auth_header -> Text,
        auth_secret_sealed -> Nullable<Text>,
        signing_secret_sealed -> Nullable<Text>,
        previous_signing_secret_sealed -> Nullable<Text>,
        previous_signing_expires_at -> Nullable<Timestamp>,
        consecutive_failures -> Integer,
        paused_until -> Nullable<Timestamp>,
        gone_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    roles,
    user_roles,
    sessions,
    api_tokens,
    audit_log,
    settings,
    connections,
);

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        uid -> Text,
        webhook_id -> Nullable<BigInt>,
        connection_id -> Nullable<BigInt>,
        ticket_id -> Nullable<BigInt>,
        event_id -> Nullable<BigInt>,
        trigger -> Text,
        replay_of -> Nullable<BigInt>,
        status -> Text,
        method -> Text,
        url -> Text,
        headers -> Text,
        sealed_headers -> Nullable<Text>,
        body -> Text,
        content_type -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        retry_schedule -> Nullable<Text>,
        next_attempt_at -> Timestamp,
        lease_expires_at -> Nullable<Timestamp>,
        claim_token -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        batch_key -> Nullable<Text>,
        batch_count -> Integer,
        batch_max -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    delivery_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        number -> Integer,
        trigger -> Text,
        started_at -> Timestamp,
        duration_ms -> BigInt,
        request_method -> Text,
        request_url -> Text,
        request_headers -> Text,
        request_body -> Text,
        response_status -> Nullable<Integer>,
        response_headers -> Text,
        response_body -> Text,
        response_truncated -> Bool,
        error_class -> Nullable<Text>,
        error_message -> Nullable<Text>,
        worker -> Text,
        note -> Nullable<Text>,
    }
}

diesel::joinable!(delivery_attempts -> deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(deliveries, delivery_attempts);
