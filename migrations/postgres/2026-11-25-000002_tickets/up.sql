-- Per-type display id counters, bumped inside the creating transaction.
CREATE TABLE ticket_counters (
    ticket_type TEXT PRIMARY KEY NOT NULL,
    last_number BIGINT NOT NULL DEFAULT 0
);
INSERT INTO ticket_counters (ticket_type, last_number) VALUES ('IN', 0), ('SR', 0), ('PR', 0), ('CH', 0);

CREATE TABLE tickets (
    id BIGSERIAL PRIMARY KEY,
    display_id TEXT NOT NULL UNIQUE,
    ticket_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    assigned_group TEXT NOT NULL DEFAULT '',
    assignee_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    requester_name TEXT NOT NULL DEFAULT '',
    requester_email TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by BIGINT REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX tickets_type ON tickets (ticket_type);
CREATE INDEX tickets_status ON tickets (status);
CREATE INDEX tickets_assignee ON tickets (assignee_id);

CREATE TABLE forms (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    normalized_name TEXT NOT NULL UNIQUE,
    multi_line BOOLEAN NOT NULL DEFAULT FALSE,
    ticket_types TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE form_fields (
    id BIGSERIAL PRIMARY KEY,
    form_id BIGINT NOT NULL REFERENCES forms(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    normalized_name TEXT NOT NULL,
    field_type TEXT NOT NULL,
    required BOOLEAN NOT NULL DEFAULT FALSE,
    position INTEGER NOT NULL DEFAULT 0,
    options TEXT NOT NULL DEFAULT '[]',
    UNIQUE (form_id, normalized_name)
);

-- One row per ticket for a single form, any number for a multi-line form. `data` is a
-- JSON object keyed by field id, so renaming a field keeps its values.
CREATE TABLE ticket_form_rows (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    form_id BIGINT NOT NULL REFERENCES forms(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_form_rows_ticket ON ticket_form_rows (ticket_id, form_id);
CREATE INDEX ticket_form_rows_form ON ticket_form_rows (form_id);

-- kind: note, field_change, webhook_fired, webhook_response.
CREATE TABLE ticket_history (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    actor_name TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    internal BOOLEAN NOT NULL DEFAULT FALSE,
    changes TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);

-- No foreign key on ticket_id: a ticket.deleted event outlives its ticket.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    event_type TEXT NOT NULL,
    ticket_id BIGINT,
    actor_id BIGINT,
    actor_integration BOOLEAN NOT NULL DEFAULT FALSE,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    processed_at TIMESTAMP
);
CREATE INDEX events_unprocessed ON events (processed_at, id);
CREATE INDEX events_ticket ON events (ticket_id, id);
