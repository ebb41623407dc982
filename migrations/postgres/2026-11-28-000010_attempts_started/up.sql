-- The dashboard's 24-hour durations and retention's body purge read attempts by start time.
CREATE INDEX delivery_attempts_started ON delivery_attempts (started_at);
