-- Why a station stays Pending or Offline: when it last tried to connect and, if that was
-- refused, why ("wrong password", "too many failed logins, retry later", ...). Written by
-- the gateway, coalesced; like last_heartbeat_at they do not move last_updated, so a
-- guessing attacker does not make every partner sync the station again.
ALTER TABLE charge_stations
    ADD COLUMN last_connection_attempt_at timestamptz,
    ADD COLUMN last_connection_error text;
