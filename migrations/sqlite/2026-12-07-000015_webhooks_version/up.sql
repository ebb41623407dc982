-- The webhooks version (see webhooks::cache) exists from the start, and is random, so no
-- two databases share one: a process that serves several keeps their definitions apart.
INSERT INTO settings (name, value) VALUES ('webhooks.version', lower(hex(randomblob(16))));
