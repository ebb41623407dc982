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
