-- Integration health (issue 14): alert tickets, held deliveries, order per ticket.

-- An administrator's pause: while set, the connection's deliveries are held (not sent,
-- not failed) until it is resumed.
ALTER TABLE connections ADD COLUMN hold_since TIMESTAMP;
ALTER TABLE connections ADD COLUMN hold_by TEXT NOT NULL DEFAULT '';
-- When the current run of failures began (cleared by a success): "failing since".
ALTER TABLE connections ADD COLUMN failing_since TIMESTAMP;
-- The alert policy as JSON; NULL follows the default (settings 'alerts.default').
ALTER TABLE connections ADD COLUMN alert_policy TEXT;
-- The connection's alert ticket, when the last alert was raised or noted (the note
-- throttle), and whether an alert is raised now (cleared when the connection recovers).
ALTER TABLE connections ADD COLUMN alert_ticket_id BIGINT;
ALTER TABLE connections ADD COLUMN alert_noted_at TIMESTAMP;
ALTER TABLE connections ADD COLUMN alert_raised_at TIMESTAMP;

-- A ticket Hookdesk opened about a failing connection: never sends to that connection.
ALTER TABLE tickets ADD COLUMN alert_connection_id BIGINT;

-- The built-in user alert tickets are created by (made on first use; it cannot sign in).
ALTER TABLE users ADD COLUMN system BOOLEAN NOT NULL DEFAULT 0;

-- "Keep order per ticket": a webhook's deliveries for one ticket leave one at a time,
-- in the order their causes committed.
ALTER TABLE webhooks ADD COLUMN keep_order BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN ordered BOOLEAN NOT NULL DEFAULT 0;
-- The claim's "is an earlier one of this webhook and ticket still open" probe.
CREATE INDEX deliveries_open_per_ticket ON deliveries (webhook_id, ticket_id, id)
    WHERE status IN ('pending', 'in_flight');

-- The default alert policy (alerts::policy); empty: the built-in default (off). Seeded so
-- that saving it is always an update (settings::put).
INSERT INTO settings (name, value) VALUES ('alerts.default', '');
