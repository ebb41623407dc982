-- The execution log's filters: an equality, then the keyset order (id descending).
-- (webhook_id, id) and (connection_id, id) exist since 000005; created_at serves dates.
CREATE INDEX deliveries_ticket ON deliveries (ticket_id, id);
CREATE INDEX deliveries_rule ON deliveries (rule_id, id);
CREATE INDEX deliveries_status_id ON deliveries (status, id);
CREATE INDEX deliveries_trigger ON deliveries (trigger, id);
