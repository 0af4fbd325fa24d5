-- The statements go back into the Go code (planned as the planner chooses).
DROP FUNCTION cluster_write_sessions(text, text[], uuid[], text[], timestamptz[], text[], uuid[], text[], uuid[], timestamptz[]);
DROP FUNCTION gateway_stations(text[]);
