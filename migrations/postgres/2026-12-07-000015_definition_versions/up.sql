-- The versions of cached definitions (see db::versioned) exist from the start, and are
-- random, so no two databases share one: a process that serves several keeps their
-- definitions apart.
INSERT INTO settings (name, value) VALUES ('webhooks.version', md5(random()::text || clock_timestamp()::text));
INSERT INTO settings (name, value) VALUES ('forms.version', md5(random()::text || clock_timestamp()::text));
