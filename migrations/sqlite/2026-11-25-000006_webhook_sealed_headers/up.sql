-- A webhook's header lines that carry credentials (secret by name: Authorization, Cookie,
-- X-Api-Key, any name with token/secret/key/password…) keep their value here, each sealed
-- with the master key: JSON [{"name", "value"}]. The `headers` column shows those lines
-- with the value redacted (`Authorization: Bearer ••••`).
ALTER TABLE webhooks ADD COLUMN sealed_headers TEXT;
