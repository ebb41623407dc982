DELETE FROM settings WHERE name = 'webhooks.version';
