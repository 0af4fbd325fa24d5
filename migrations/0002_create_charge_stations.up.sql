-- A charge station is identified by its OCPP identity (charge_station_id), unique across the
-- whole system. Its network is the network of its location (kept in step by the trigger
-- below), so visibility and sync queries need no join.
CREATE TABLE charge_stations (
    id                                 text PRIMARY KEY,
    network_id                         uuid NOT NULL REFERENCES networks (id),
    location_id                        text NOT NULL REFERENCES locations (id) ON DELETE RESTRICT,
    name                               text,
    deploy_state                       text NOT NULL,
    installation_date                  timestamptz,
    default_charge_station_tariff_id   text NOT NULL,
    charger_type                       text NOT NULL,
    capabilities                       text[] NOT NULL DEFAULT '{}',
    contactless_type                   text,
    tap_to_stop                        boolean,
    stop_on_parking                    boolean,
    default_charge_station_directions  jsonb,
    default_charge_station_floor_level text,
    maintenance_info                   text,
    remarks                            text,
    security_profile                   smallint NOT NULL DEFAULT 1 CHECK (security_profile BETWEEN 0 AND 3),
    ocpp_password_hash                 text,

    -- Read-only: filled by the OCPP gateway, never written by the REST API.
    heartbeat_interval                 integer,
    charge_point_vendor                text,
    charge_point_model                 text,
    charge_point_serial_number         text,
    charge_box_serial_number           text,
    firmware_version                   text,
    iccid                              text,
    imsi                               text,
    meter_type                         text,
    meter_serial_number                text,
    client_ip_address                  text,
    remote_manageable                  boolean,
    connectivity_status                text,
    protocol_version                   text,
    endpoint                           text,
    onboarding_state                   text NOT NULL DEFAULT 'Pending',
    last_boot_at                       timestamptz,
    last_heartbeat_at                  timestamptz,

    etag                               uuid NOT NULL,
    created                            timestamptz NOT NULL,
    -- last_updated moves on any change of the station or of its EVSEs and connectors;
    -- station_last_updated only on changes of the station itself (exclude_evses_modified).
    last_updated                       timestamptz NOT NULL,
    station_last_updated               timestamptz NOT NULL
);
CREATE INDEX charge_stations_sync_idx ON charge_stations (network_id, last_updated, id);
CREATE INDEX charge_stations_station_sync_idx ON charge_stations (network_id, station_last_updated, id);
CREATE INDEX charge_stations_location_idx ON charge_stations (location_id);

-- EVSEs belong to one station. uid is unique system-wide; the sequence number (the OCPP 1.6
-- connectorId / 2.0.1 evseId) is unique per station. That constraint is checked at commit so
-- that replacing a station's EVSE set may swap numbers between EVSEs.
CREATE TABLE evses (
    uid                  text PRIMARY KEY,
    charge_station_id    text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    evse_sequence_number integer NOT NULL CHECK (evse_sequence_number >= 1),
    evse_id              text,
    status               text NOT NULL DEFAULT 'UNKNOWN',
    ocpp_status          text,
    capabilities         text[] NOT NULL DEFAULT '{}',
    connectors           jsonb NOT NULL,
    floor_level          text,
    coordinates          jsonb,
    physical_reference   text,
    directions           jsonb,
    parking_restrictions text[] NOT NULL DEFAULT '{}',
    status_schedule      jsonb,
    last_updated         timestamptz NOT NULL,
    CONSTRAINT evses_station_sequence_key UNIQUE (charge_station_id, evse_sequence_number)
        DEFERRABLE INITIALLY DEFERRED
);

-- charge_station_status is schema.AggregateStatus in SQL, for the list filter on status.
-- chargestations tests compare the two on every combination of statuses.
CREATE FUNCTION charge_station_status(statuses text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN coalesce(cardinality(statuses), 0) = 0 THEN 'UNKNOWN'
        WHEN 'AVAILABLE' = ANY (statuses) THEN 'AVAILABLE'
        WHEN 'CHARGING' = ANY (statuses) THEN 'CHARGING'
        WHEN 'RESERVED' = ANY (statuses) THEN 'RESERVED'
        WHEN 'BLOCKED' = ANY (statuses) THEN 'BLOCKED'
        WHEN 'REMOVED' = ALL (statuses) THEN 'REMOVED'
        WHEN 'OUTOFORDER' = ANY (statuses) THEN 'OUTOFORDER'
        WHEN 'INOPERATIVE' = ANY (statuses) THEN 'INOPERATIVE'
        WHEN 'PLANNED' = ANY (statuses) THEN 'PLANNED'
        ELSE 'UNKNOWN'
    END
$$;

-- A station's network is its location's: when a location moves to another network its
-- stations move with it (a change made through the API, so their etag changes too).
CREATE FUNCTION charge_stations_follow_location() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations
    SET network_id = NEW.network_id, etag = gen_random_uuid(),
        last_updated = NEW.last_updated, station_last_updated = NEW.last_updated
    WHERE location_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER locations_network_moves_stations
    AFTER UPDATE OF network_id ON locations
    FOR EACH ROW WHEN (OLD.network_id IS DISTINCT FROM NEW.network_id)
    EXECUTE FUNCTION charge_stations_follow_location();
