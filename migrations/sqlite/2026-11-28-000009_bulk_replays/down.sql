DROP TABLE bulk_replays;
