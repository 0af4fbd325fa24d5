ALTER TABLE charge_stations
    DROP COLUMN last_connection_attempt_at,
    DROP COLUMN last_connection_error;
