DROP INDEX delivery_attempts_started;
