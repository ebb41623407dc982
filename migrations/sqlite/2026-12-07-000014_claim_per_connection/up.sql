-- The claim seeks each connection's due rows in turn (claim.rs, invariant 7): a paused or
-- saturated connection's backlog is then never scanned by the claims of the others.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (status, connection_id, next_attempt_at, id);
