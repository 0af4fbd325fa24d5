DROP TABLE data_transfers;
DROP TABLE command_calls;
DROP TABLE station_sessions;
