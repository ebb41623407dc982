-- PostgreSQL adds its NOTIFY trigger on deliveries here. SQLite has one process per
-- database file, woken in process; this keeps the two migration lists in step.
SELECT 1;
