DROP TABLE rule_firings;
DROP TABLE rules;
ALTER TABLE deliveries DROP COLUMN rule_id;
ALTER TABLE deliveries DROP COLUMN actor_id;
ALTER TABLE deliveries DROP COLUMN actor_name;
DELETE FROM settings WHERE name = 'rules.version';
