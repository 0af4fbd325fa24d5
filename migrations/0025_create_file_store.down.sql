DROP TABLE firmware_status_log;
ALTER TABLE charge_stations DROP COLUMN firmware_update_status, DROP COLUMN diagnostics_status;
DROP TABLE firmware;
DROP TABLE file_chunks;
DROP TABLE files;
