ALTER TABLE ticket_history ADD CONSTRAINT ticket_history_actor_id_fkey
    FOREIGN KEY (actor_id) REFERENCES users(id) ON DELETE SET NULL;
