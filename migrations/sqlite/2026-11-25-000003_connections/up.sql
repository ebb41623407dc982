-- Remote application connections. Columns ending in `_sealed` and the secret entries of
-- `headers` hold XChaCha20-Poly1305 ciphertext (`v1:…`), never clear text.
CREATE TABLE connections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    app_type TEXT NOT NULL,
    environment TEXT NOT NULL,
    base_url TEXT NOT NULL,
    headers TEXT NOT NULL DEFAULT '[]',
    timeout_ms INTEGER NOT NULL DEFAULT 10000,
    verify_tls BOOLEAN NOT NULL DEFAULT 1,
    auth_kind TEXT NOT NULL DEFAULT 'none',
    auth_username TEXT NOT NULL DEFAULT '',
    auth_domain TEXT NOT NULL DEFAULT '',
    auth_header TEXT NOT NULL DEFAULT '',
    auth_secret_sealed TEXT,
    signing_secret_sealed TEXT,
    previous_signing_secret_sealed TEXT,
    previous_signing_expires_at TIMESTAMP,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    paused_until TIMESTAMP,
    gone_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
