-- Tokens (issue 12): the RFID cards and app users a network's stations authorise, and the
-- live status an operator can trust (friendly statuses, offline stations, the faults filter).

-- Whether a station of this network accepts a token it does not know (free vend, home
-- chargers). Refusing is the default: an unknown card must not charge for free by accident.
ALTER TABLE networks ADD COLUMN accept_unknown_tokens boolean NOT NULL DEFAULT false;

-- One row per token per network: the same card may be known to several networks. RFID uids
-- are matched case-insensitively (readers print hex in either case), every other type
-- exactly: match_uid is the key a presented id is compared with.
CREATE TABLE tokens (
    id                   text PRIMARY KEY,
    network_id           uuid NOT NULL REFERENCES networks (id),
    uid                  text NOT NULL,
    type                 text NOT NULL,
    match_uid            text NOT NULL GENERATED ALWAYS AS (CASE WHEN type = 'RFID' THEN upper(uid) ELSE uid END) STORED,
    contract_id          text NOT NULL,
    visual_number        text,
    issuer               text NOT NULL,
    group_id             text,
    valid                boolean NOT NULL,
    whitelist            text NOT NULL,
    language             text,
    default_profile_type text,
    expiry_date          timestamptz,
    etag                 uuid NOT NULL,
    created              timestamptz NOT NULL,
    last_updated         timestamptz NOT NULL,
    CONSTRAINT tokens_network_uid_key UNIQUE (network_id, match_uid)
);
-- Lists are read in (last_updated, id) order; the gateway's lookup uses the unique key.
CREATE INDEX tokens_updated_idx ON tokens (last_updated, id);
-- An unfiltered list's total comes from list_counts (0006), not from counting a table that
-- imports fill with hundreds of thousands of cards. Counted once per statement and network
-- (a bulk import of 1,000 tokens adds to one count row once, not 1,000 times, each leaving a
-- row version the next must step over). A token never changes network.
CREATE FUNCTION tokens_count_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT network_id, count(*) AS n FROM changed_rows GROUP BY network_id ORDER BY network_id LOOP
        PERFORM list_counts_add('tokens', r.network_id, CASE WHEN TG_OP = 'DELETE' THEN -r.n ELSE r.n END);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER tokens_counted_insert AFTER INSERT ON tokens
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION tokens_count_changed();
CREATE TRIGGER tokens_counted_delete AFTER DELETE ON tokens
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION tokens_count_changed();

-- Every node caches what it needs to authorise (tokens.Authorizer). A statement that changes
-- tokens, or a network's accept_unknown_tokens, notifies the networks it touched at commit on
-- channel tokens_changed (network ids separated by newlines), and every node forgets what it
-- decided for them.
CREATE FUNCTION tokens_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    SELECT string_agg(DISTINCT network_id::text, E'\n') INTO payload FROM changed_tokens;
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('tokens_changed', payload);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER tokens_notify_inserted AFTER INSERT ON tokens
    REFERENCING NEW TABLE AS changed_tokens FOR EACH STATEMENT EXECUTE FUNCTION tokens_notify_changed();
CREATE TRIGGER tokens_notify_updated AFTER UPDATE ON tokens
    REFERENCING OLD TABLE AS changed_tokens FOR EACH STATEMENT EXECUTE FUNCTION tokens_notify_changed();
CREATE TRIGGER tokens_notify_deleted AFTER DELETE ON tokens
    REFERENCING OLD TABLE AS changed_tokens FOR EACH STATEMENT EXECUTE FUNCTION tokens_notify_changed();

CREATE FUNCTION networks_notify_token_setting() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    SELECT string_agg(n.id::text, E'\n') INTO payload
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.accept_unknown_tokens IS DISTINCT FROM o.accept_unknown_tokens;
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('tokens_changed', payload);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER networks_notify_token_setting AFTER UPDATE ON networks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION networks_notify_token_setting();

-- A station's tokens are its network's: a station that moves to another network (its location
-- did) is named on the same channel as "station:<id>". Rare (only REST writes move stations),
-- so a row trigger.
CREATE FUNCTION charge_stations_notify_network() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tokens_changed', 'station:' || NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER charge_stations_notify_network AFTER UPDATE OF network_id ON charge_stations
    FOR EACH ROW WHEN (OLD.network_id IS DISTINCT FROM NEW.network_id)
    EXECUTE FUNCTION charge_stations_notify_network();

-- 2.0.1 stations report whether energy flows in TransactionEvent's chargingState, not in the
-- connector status (Occupied): the EVSE keeps the running transaction's state, so that its
-- friendly status can say "Charging paused" or "Done or paused". transaction_id finds the
-- EVSE for events that leave the evse out (only the first event of a transaction must carry it).
ALTER TABLE evses ADD COLUMN charging_state text, ADD COLUMN transaction_id text;

-- has_fault: whether any EVSE of the station is OUTOFORDER. The station aggregate shows the
-- most usable EVSE (a faulted EVSE next to a charging one reads CHARGING), so the faults view
-- filters on this flag instead. The EVSE triggers that rebuild evses_doc (0006, 0013) keep it
-- in the same update of the station row; a partial index serves the filter in list order.
ALTER TABLE charge_stations ADD COLUMN has_fault boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION evses_inserted_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]'),
        has_fault = EXISTS (SELECT 1 FROM evses e WHERE e.charge_station_id = cs.id AND e.status = 'OUTOFORDER')
    FROM (SELECT DISTINCT charge_station_id FROM new_rows) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION evses_updated_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]'),
        has_fault = EXISTS (SELECT 1 FROM evses e WHERE e.charge_station_id = cs.id AND e.status = 'OUTOFORDER'),
        last_updated = GREATEST(cs.last_updated, t.at)
    FROM (SELECT charge_station_id, max(at) AS at FROM (
              SELECT charge_station_id, last_updated AS at FROM new_rows
              UNION ALL
              SELECT charge_station_id, NULL FROM old_rows) r
          GROUP BY charge_station_id) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION evses_deleted_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]'),
        has_fault = EXISTS (SELECT 1 FROM evses e WHERE e.charge_station_id = cs.id AND e.status = 'OUTOFORDER')
    FROM (SELECT DISTINCT charge_station_id FROM old_rows) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;

UPDATE charge_stations cs
SET has_fault = true,
    evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                          FROM evses e WHERE e.charge_station_id = cs.id), '[]')
WHERE EXISTS (SELECT 1 FROM evses e WHERE e.charge_station_id = cs.id AND e.status = 'OUTOFORDER');
-- The new EVSE columns enter every document (to_jsonb of the row) as stations are rewritten.
UPDATE charge_stations cs
SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                          FROM evses e WHERE e.charge_station_id = cs.id), '[]')
WHERE NOT has_fault;
CREATE INDEX charge_stations_has_fault_idx ON charge_stations (last_updated, id) WHERE has_fault;

-- evse_friendly_status is schema.EVSEFriendlyStatus in SQL, for the status log entries written
-- here (a test keeps the two in step).
CREATE FUNCTION evse_friendly_status(ocpp_status text, charging_state text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN ocpp_status = 'Occupied' AND charging_state = 'SuspendedEV' THEN 'Done or paused'
        WHEN ocpp_status = 'Occupied' AND charging_state = 'SuspendedEVSE' THEN 'Charging paused'
        WHEN ocpp_status = 'Occupied' AND charging_state = 'EVConnected' THEN 'Ready'
        WHEN ocpp_status IN ('Available', 'Preparing') THEN 'Ready'
        WHEN ocpp_status IN ('Charging', 'Occupied') THEN 'Charging'
        WHEN ocpp_status = 'SuspendedEVSE' THEN 'Charging paused'
        WHEN ocpp_status = 'SuspendedEV' THEN 'Done or paused'
        WHEN ocpp_status = 'Finishing' THEN 'Finishing'
        WHEN ocpp_status = 'Reserved' THEN 'Reserved'
        WHEN ocpp_status = 'Faulted' THEN 'Faulted'
        ELSE 'Unavailable'
    END
$$;

-- A station going offline, and coming back, is part of its status history: one status-log
-- entry per EVSE, whichever code path changed the connectivity (a closed connection, the
-- sweep of a node that went away). Offline: OCPI UNKNOWN, friendly Offline, with the last raw
-- status the EVSE reported. Back online: the EVSE's last reported status again.
CREATE FUNCTION charge_stations_log_connectivity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO station_status_log (charge_station_id, evse_sequence_number, connector_id, ocpp_status,
        info, ocpi_status, friendly_status, created)
    SELECT e.charge_station_id, e.evse_sequence_number, 0, coalesce(e.ocpp_status, ''),
        CASE WHEN NEW.connectivity_status = 'Offline' THEN 'station offline' ELSE 'station online' END,
        CASE WHEN NEW.connectivity_status = 'Offline' THEN 'UNKNOWN' ELSE e.status END,
        CASE WHEN NEW.connectivity_status = 'Offline' THEN 'Offline'
             ELSE evse_friendly_status(e.ocpp_status, e.charging_state) END,
        now()
    FROM evses e
    WHERE e.charge_station_id = NEW.id
    ORDER BY e.evse_sequence_number;
    RETURN NULL;
END
$$;
CREATE TRIGGER charge_stations_log_connectivity AFTER UPDATE OF connectivity_status ON charge_stations
    FOR EACH ROW WHEN (NEW.connectivity_status = 'Offline' AND OLD.connectivity_status IS DISTINCT FROM 'Offline'
                       OR OLD.connectivity_status = 'Offline' AND NEW.connectivity_status = 'Online')
    EXECUTE FUNCTION charge_stations_log_connectivity();
