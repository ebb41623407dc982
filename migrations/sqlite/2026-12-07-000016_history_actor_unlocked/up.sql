-- PostgreSQL drops ticket_history's foreign key to users here (see its migration: a hot
-- actor row made every insert build a MultiXact). SQLite's foreign keys take no row
-- locks and its writers are serialised, so the key stays; this keeps the two lists in step.
SELECT 1;
