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
        system -> Bool,
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
        hold_since -> Nullable<Timestamp>,
        hold_by -> Text,
        failing_since -> Nullable<Timestamp>,
        alert_policy -> Nullable<Text>,
        alert_ticket_id -> Nullable<BigInt>,
        alert_noted_at -> Nullable<Timestamp>,
        alert_raised_at -> Nullable<Timestamp>,
        oauth_token_url -> Text,
        oauth_scope -> Text,
        oauth_audience -> Text,
        oauth_resource -> Text,
        oauth_client_auth -> Text,
        tls_client_cert -> Text,
        tls_client_key_sealed -> Nullable<Text>,
        tls_ca_bundle -> Text,
        tls_cert_expires_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

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
        rule_id -> Nullable<BigInt>,
        actor_id -> Nullable<BigInt>,
        actor_name -> Text,
        ordered -> Bool,
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

diesel::table! {
    delivery_tickets (delivery_id, ticket_id) {
        delivery_id -> BigInt,
        ticket_id -> BigInt,
    }
}

diesel::table! {
    delivery_rules (delivery_id, rule_id) {
        delivery_id -> BigInt,
        rule_id -> BigInt,
    }
}

diesel::joinable!(delivery_tickets -> deliveries (delivery_id));
diesel::joinable!(delivery_rules -> deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    roles,
    user_roles,
    sessions,
    api_tokens,
    audit_log,
    settings,
    connections,
    deliveries,
    delivery_attempts,
    delivery_tickets,
    delivery_rules,
);

diesel::table! {
    ticket_counters (ticket_type) {
        ticket_type -> Text,
        last_number -> BigInt,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        display_id -> Text,
        ticket_type -> Text,
        subject -> Text,
        description -> Text,
        status -> Text,
        priority -> Text,
        category -> Text,
        assigned_group -> Text,
        assignee_id -> Nullable<BigInt>,
        requester_name -> Text,
        requester_email -> Text,
        created_at -> Timestamp,
        created_by -> Nullable<BigInt>,
        updated_at -> Timestamp,
        updated_by -> Nullable<BigInt>,
        alert_connection_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    forms (id) {
        id -> BigInt,
        name -> Text,
        normalized_name -> Text,
        multi_line -> Bool,
        ticket_types -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    form_fields (id) {
        id -> BigInt,
        form_id -> BigInt,
        name -> Text,
        normalized_name -> Text,
        field_type -> Text,
        required -> Bool,
        position -> Integer,
        options -> Text,
        decimal_places -> Nullable<Integer>,
    }
}

diesel::table! {
    ticket_form_rows (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        form_id -> BigInt,
        data -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_history (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        actor_id -> Nullable<BigInt>,
        actor_name -> Text,
        body -> Text,
        internal -> Bool,
        changes -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        event_type -> Text,
        ticket_id -> Nullable<BigInt>,
        actor_id -> Nullable<BigInt>,
        actor_integration -> Bool,
        payload -> Text,
        created_at -> Timestamp,
        processed_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(form_fields -> forms (form_id));
diesel::joinable!(ticket_form_rows -> tickets (ticket_id));
diesel::joinable!(ticket_form_rows -> forms (form_id));
diesel::joinable!(ticket_history -> tickets (ticket_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    tickets,
    ticket_counters,
    forms,
    form_fields,
    ticket_form_rows,
    ticket_history,
    events,
);

// --- webhooks (issue 4) ---

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        status -> Text,
        ticket_types -> Text,
        connection_id -> Nullable<BigInt>,
        test_connection_id -> Nullable<BigInt>,
        url -> Text,
        url_encoded -> Bool,
        method -> Text,
        request_content_type -> Text,
        headers -> Text,
        response_content_type -> Text,
        run_rules_after_response -> Bool,
        action_description -> Text,
        show_as_button -> Bool,
        preset -> Text,
        preset_fields -> Text,
        payload_mode -> Text,
        body_template -> Text,
        send_ids -> Bool,
        condition_match -> Text,
        batch_mode -> Text,
        batch_wait_seconds -> Integer,
        batch_max_items -> Integer,
        retry_max_attempts -> Nullable<Integer>,
        retry_schedule -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sealed_headers -> Nullable<Text>,
        keep_order -> Bool,
    }
}

diesel::table! {
    webhook_parameters (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        position -> Integer,
        name -> Text,
        label -> Text,
        default_template -> Text,
        read_only -> Bool,
        multi_line -> Bool,
    }
}

diesel::table! {
    webhook_response_fields (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        position -> Integer,
        path -> Text,
        target -> Text,
    }
}

diesel::table! {
    webhook_response_actions (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        position -> Integer,
        kind -> Text,
        target -> Text,
        value_template -> Text,
    }
}

diesel::table! {
    webhook_conditions (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        position -> Integer,
        field -> Text,
        operator -> Text,
        value -> Text,
    }
}

diesel::table! {
    webhook_roles (webhook_id, role_id) {
        webhook_id -> BigInt,
        role_id -> BigInt,
    }
}

diesel::joinable!(webhook_parameters -> webhooks (webhook_id));
diesel::joinable!(webhook_response_fields -> webhooks (webhook_id));
diesel::joinable!(webhook_response_actions -> webhooks (webhook_id));
diesel::joinable!(webhook_conditions -> webhooks (webhook_id));
diesel::joinable!(webhook_roles -> webhooks (webhook_id));
diesel::joinable!(webhook_roles -> roles (role_id));

diesel::allow_tables_to_appear_in_same_query!(
    webhooks,
    webhook_parameters,
    webhook_response_fields,
    webhook_response_actions,
    webhook_conditions,
    webhook_roles,
    roles,
);

diesel::table! {
    rules (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        enabled -> Bool,
        position -> Integer,
        events -> Text,
        condition_match -> Text,
        conditions -> Text,
        actions -> Text,
        stop_processing -> Bool,
        ignore_integration -> Bool,
        ignored_users -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    rule_firings (id) {
        id -> BigInt,
        rule_id -> BigInt,
        fired_at -> Timestamp,
    }
}

diesel::table! {
    bulk_replays (id) {
        id -> BigInt,
        filter -> Text,
        last_id -> BigInt,
        cursor -> Nullable<BigInt>,
        total -> BigInt,
        done -> BigInt,
        state -> Text,
        error -> Nullable<Text>,
        created_by -> Nullable<BigInt>,
        created_by_name -> Text,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}
