DROP TABLE delivery_rules;
DROP TABLE delivery_tickets;
