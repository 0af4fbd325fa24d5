-- Charging sessions: the transactions table (0004) becomes the sessions' home. A session gets
-- a public id, the network and location of its station at the time (so that a station that
-- later moves does not take its history along, and a list filters without a join), the
-- status ACTIVE / COMPLETED / INVALID, and what the meter values say of it; next to it, its
-- meter-value timeline and the charging states that split its time into charging and idle.

ALTER TABLE transactions
    ADD COLUMN id             uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN network_id     uuid,
    ADD COLUMN location_id    text,
    ADD COLUMN connector_id   integer,
    ADD COLUMN id_token_type  text,
    -- the token that stopped the session (1.6 StopTransaction idTag, 2.0.1 Ended idToken):
    -- kept apart, so that it never replaces the token the session was started with.
    ADD COLUMN stop_id_tag    text,
    ADD COLUMN status         text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'COMPLETED', 'INVALID')),
    -- csms_made_id: a 1.6 transaction, whose id evroam made; its start is deduplicated.
    ADD COLUMN csms_made_id   boolean NOT NULL DEFAULT false,
    ADD COLUMN max_power_w    double precision,
    -- the newest Energy.Active.Import.Register sample, by the station's timestamp: the
    -- energy of a session still running.
    ADD COLUMN last_energy_wh double precision,
    ADD COLUMN last_energy_at timestamptz;

UPDATE transactions t
SET network_id = c.network_id, location_id = c.location_id,
    status = CASE WHEN t.stopped_at IS NOT NULL THEN 'COMPLETED' ELSE 'ACTIVE' END,
    csms_made_id = (c.protocol_version IS DISTINCT FROM 'Ocpp201')
FROM charge_stations c
WHERE c.id = t.charge_station_id;

ALTER TABLE transactions
    ALTER COLUMN network_id SET NOT NULL,
    ALTER COLUMN location_id SET NOT NULL,
    ADD CONSTRAINT transactions_id_key UNIQUE (id);

-- A repeated 1.6 StartTransaction (same station, connector, idTag, meterStart, timestamp)
-- finds its first transaction and gets the same id.
CREATE UNIQUE INDEX transactions_start16_key ON transactions
    (charge_station_id, evse_sequence_number, id_tag, meter_start_wh, started_at) WHERE csms_made_id;
-- Lists in (last_updated, id) order: a network's, a station's, and everything (admin export).
CREATE INDEX transactions_network_sync_idx ON transactions (network_id, updated, id);
CREATE INDEX transactions_station_sync_idx ON transactions (charge_station_id, updated, id);
CREATE INDEX transactions_sync_idx ON transactions (updated, id);
-- The session running on an EVSE, which a 1.6 StatusNotification gives a charging state.
CREATE INDEX transactions_active_idx ON transactions (charge_station_id, evse_sequence_number) WHERE status = 'ACTIVE';

-- An unfiltered list's total without counting the table (list_counts, migration 0006), added
-- once per statement and network from the statement's transition table: a batch of the
-- gateway, or a bulk import, touches a count row once, not once per session (a row trigger
-- would leave a row version per session for the next update to step over). A session never
-- changes network.
CREATE FUNCTION transactions_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR r IN SELECT network_id, count(*) AS n FROM inserted_rows GROUP BY network_id ORDER BY network_id LOOP
            PERFORM list_counts_add('sessions', r.network_id, r.n);
        END LOOP;
    ELSE
        FOR r IN SELECT network_id, count(*) AS n FROM deleted_rows GROUP BY network_id ORDER BY network_id LOOP
            PERFORM list_counts_add('sessions', r.network_id, -r.n);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER transactions_counted_insert AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION transactions_counted();
CREATE TRIGGER transactions_counted_delete AFTER DELETE ON transactions
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION transactions_counted();
INSERT INTO list_counts (kind, network_id, slot, n)
SELECT 'sessions', network_id, 0, count(*) FROM transactions GROUP BY network_id;

-- The meter-value timeline of a session: one row per timestamp the station sampled at.
CREATE TABLE session_meter_values (
    session_id  uuid NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,
    sampled_at  timestamptz NOT NULL,
    energy_wh   double precision,
    power_w     double precision,
    current_a   double precision,
    soc_percent double precision,
    PRIMARY KEY (session_id, sampled_at)
);

-- Charging states of a session by the station's timestamp (2.0.1 chargingState, 1.6 connector
-- status): charging_s and idle_s are read from them.
CREATE TABLE session_states (
    session_id uuid NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    charging   boolean NOT NULL,
    PRIMARY KEY (session_id, at)
);
