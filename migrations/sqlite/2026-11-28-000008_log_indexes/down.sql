DROP INDEX deliveries_ticket;
DROP INDEX deliveries_rule;
DROP INDEX deliveries_status_id;
DROP INDEX deliveries_trigger;
