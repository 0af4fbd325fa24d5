ALTER TABLE charge_stations DROP COLUMN last_connected_at;
DROP INDEX station_sessions_left_idx;
DELETE FROM station_sessions WHERE left_at IS NOT NULL;
ALTER TABLE station_sessions DROP COLUMN left_at;
