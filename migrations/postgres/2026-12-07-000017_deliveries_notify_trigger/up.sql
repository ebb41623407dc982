-- Workers in other processes LISTEN on hookdesk_deliveries (delivery::notify). The
-- database sends the NOTIFY itself when deliveries are inserted, from a statement-level
-- trigger: PostgreSQL delivers it only if the inserting transaction commits, exactly as
-- the NOTIFY statement the application used to send — one round trip fewer per queued
-- delivery (and one notification per statement, however many rows it inserted).
CREATE FUNCTION hookdesk_deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hookdesk_deliveries', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION hookdesk_deliveries_notify();
