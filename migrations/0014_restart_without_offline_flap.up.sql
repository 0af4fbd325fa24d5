-- A node that shuts down (or restarts after a crash) does not mark its stations offline at
-- once: it marks their sessions left (left_at). A station that reconnects within the grace
-- period (to any node) takes its session over and never reads Offline; one that does not is
-- marked offline by whichever node sweeps first. Commands treat a left session as no session.
ALTER TABLE station_sessions ADD COLUMN left_at timestamptz;
CREATE INDEX station_sessions_left_idx ON station_sessions (left_at) WHERE left_at IS NOT NULL;

-- When the station's current connection began: a disconnect recorded for an earlier
-- connection (a late sweep of a left session) must not turn it offline.
ALTER TABLE charge_stations ADD COLUMN last_connected_at timestamptz;
