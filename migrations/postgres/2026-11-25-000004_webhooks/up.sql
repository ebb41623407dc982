-- Webhook definitions and their ordered child rows. A webhook is saved whole, in one
-- transaction: the child rows are replaced together with the parent row.
CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'enabled',
    ticket_types TEXT NOT NULL DEFAULT '',
    connection_id BIGINT REFERENCES connections(id),
    test_connection_id BIGINT REFERENCES connections(id),
    url TEXT NOT NULL DEFAULT '',
    url_encoded BOOLEAN NOT NULL DEFAULT FALSE,
    method TEXT NOT NULL DEFAULT 'POST',
    request_content_type TEXT NOT NULL DEFAULT 'json',
    headers TEXT NOT NULL DEFAULT '',
    response_content_type TEXT NOT NULL DEFAULT 'json',
    run_rules_after_response BOOLEAN NOT NULL DEFAULT FALSE,
    action_description TEXT NOT NULL DEFAULT '',
    show_as_button BOOLEAN NOT NULL DEFAULT FALSE,
    preset TEXT NOT NULL DEFAULT 'generic',
    preset_fields TEXT NOT NULL DEFAULT '{}',
    payload_mode TEXT NOT NULL DEFAULT 'custom',
    body_template TEXT NOT NULL DEFAULT '',
    send_ids BOOLEAN NOT NULL DEFAULT FALSE,
    condition_match TEXT NOT NULL DEFAULT 'all',
    batch_mode TEXT NOT NULL DEFAULT 'none',
    batch_wait_seconds INTEGER NOT NULL DEFAULT 30,
    batch_max_items INTEGER NOT NULL DEFAULT 100,
    retry_max_attempts INTEGER,
    retry_schedule TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_parameters (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    default_template TEXT NOT NULL DEFAULT '',
    read_only BOOLEAN NOT NULL DEFAULT FALSE,
    multi_line BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX webhook_parameters_webhook ON webhook_parameters (webhook_id, position);

CREATE TABLE webhook_response_fields (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    path TEXT NOT NULL,
    target TEXT NOT NULL
);
CREATE INDEX webhook_response_fields_webhook ON webhook_response_fields (webhook_id, position);

CREATE TABLE webhook_response_actions (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    value_template TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_response_actions_webhook ON webhook_response_actions (webhook_id, position);

CREATE TABLE webhook_conditions (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    field TEXT NOT NULL,
    operator TEXT NOT NULL,
    value TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_conditions_webhook ON webhook_conditions (webhook_id, position);

CREATE TABLE webhook_roles (
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (webhook_id, role_id)
);
