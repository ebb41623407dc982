-- What a batch delivery carries besides its row's own ticket and rule (its first
-- occurrence's): each other ticket and each other rule once, written with the update
-- that appends an occurrence, and the tickets copied to a replay of the batch. The
-- execution log finds a batch from every ticket and rule in it.
-- No foreign keys to tickets or rules: the log keeps a delivery after they are deleted.
CREATE TABLE delivery_tickets (
    delivery_id BIGINT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    ticket_id BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, ticket_id)
);
CREATE TABLE delivery_rules (
    delivery_id BIGINT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    rule_id BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, rule_id)
);
-- The log's ticket and rule filters: an equality, then the keyset order.
CREATE INDEX delivery_tickets_ticket ON delivery_tickets (ticket_id, delivery_id);
CREATE INDEX delivery_rules_rule ON delivery_rules (rule_id, delivery_id);
