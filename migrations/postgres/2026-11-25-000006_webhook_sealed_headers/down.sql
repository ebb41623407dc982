ALTER TABLE webhooks DROP COLUMN sealed_headers;
