-- The versions of cached definitions (see db::versioned) exist from the start, and are
-- random, so no two databases share one: a process that serves several keeps their
-- definitions apart.
INSERT INTO settings (name, value) VALUES ('webhooks.version', lower(hex(randomblob(16))));
INSERT INTO settings (name, value) VALUES ('forms.version', lower(hex(randomblob(16))));
