DROP TABLE events;
DROP TABLE ticket_history;
DROP TABLE ticket_form_rows;
DROP TABLE form_fields;
DROP TABLE forms;
DROP TABLE tickets;
DROP TABLE ticket_counters;
