DROP TABLE command_calls;
DROP TABLE station_sessions;
