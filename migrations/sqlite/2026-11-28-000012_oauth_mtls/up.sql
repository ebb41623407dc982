-- Connections that reach enterprise systems (issue 15): OAuth 2.0 client credentials and
-- mutual TLS.

-- OAuth 2.0 client credentials (auth_kind 'oauth2'): the client id is auth_username and
-- the client secret auth_secret_sealed, like every other kind's one secret.
ALTER TABLE connections ADD COLUMN oauth_token_url TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN oauth_scope TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN oauth_audience TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN oauth_resource TEXT NOT NULL DEFAULT '';
-- 'client_secret_basic' or 'client_secret_post'.
ALTER TABLE connections ADD COLUMN oauth_client_auth TEXT NOT NULL DEFAULT 'client_secret_basic';

-- Mutual TLS: the client certificate chain (PEM, public), its private key (sealed), a CA
-- bundle to trust for this connection's server (PEM, public), and the certificate's
-- expiry, kept so lists can flag certificates close to it without parsing PEM.
ALTER TABLE connections ADD COLUMN tls_client_cert TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN tls_client_key_sealed TEXT;
ALTER TABLE connections ADD COLUMN tls_ca_bundle TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN tls_cert_expires_at TIMESTAMP;
