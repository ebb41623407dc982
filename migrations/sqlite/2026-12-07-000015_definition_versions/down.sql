DELETE FROM settings WHERE name IN ('webhooks.version', 'forms.version');
