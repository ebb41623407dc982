-- Trigger rules. Events, conditions and actions are JSON: they are read and written
-- whole with the rule, never queried by their parts.
CREATE TABLE rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT 1,
    position INTEGER NOT NULL,
    events TEXT NOT NULL,
    condition_match TEXT NOT NULL DEFAULT 'all',
    conditions TEXT NOT NULL,
    actions TEXT NOT NULL,
    stop_processing BOOLEAN NOT NULL DEFAULT 0,
    ignore_integration BOOLEAN NOT NULL DEFAULT 1,
    ignored_users TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX rules_position ON rules (position, id);

-- One row per time a rule matched an event: "fired N times in the last 24 h".
-- Rows older than 30 days are pruned as new ones are written. (Insert-only: a hot
-- rule never makes concurrent changes queue on one row.)
CREATE TABLE rule_firings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id BIGINT NOT NULL,
    fired_at TIMESTAMP NOT NULL
);
CREATE INDEX rule_firings_rule ON rule_firings (rule_id, fired_at);

-- What fired a delivery, beyond its trigger kind: the rule, or the user who pressed
-- the button (name kept: the log outlives users).
ALTER TABLE deliveries ADD COLUMN rule_id BIGINT;
ALTER TABLE deliveries ADD COLUMN actor_id BIGINT;
ALTER TABLE deliveries ADD COLUMN actor_name TEXT NOT NULL DEFAULT '';

-- Events written before rules existed are not evaluated now.
UPDATE events SET processed_at = created_at WHERE processed_at IS NULL;

-- The rules version (see rules::store) exists from the start, so changes only update it.
INSERT INTO settings (name, value) VALUES ('rules.version', '0');
