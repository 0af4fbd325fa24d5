-- What stations report over OCPP. Every table hangs off charge_stations with ON DELETE CASCADE:
-- deleting a station deletes its logs, and a station created again with the same identity
-- starts with empty ones.

-- Every OCPP frame in and out; id order is wire order per station.
CREATE TABLE ocpp_messages (
    id                bigserial PRIMARY KEY,
    charge_station_id text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    direction         text NOT NULL CHECK (direction IN ('in', 'out')),
    message_type      text NOT NULL CHECK (message_type IN ('CALL', 'CALLRESULT', 'CALLERROR')),
    message_id        text NOT NULL,
    action            text,
    payload           jsonb,
    created           timestamptz NOT NULL
);
CREATE INDEX ocpp_messages_station_idx ON ocpp_messages (charge_station_id, id DESC);

-- Every StatusNotification, with the OCPI and the friendly status derived from it.
CREATE TABLE station_status_log (
    id                   bigserial PRIMARY KEY,
    charge_station_id    text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    evse_sequence_number integer NOT NULL,
    connector_id         integer NOT NULL,
    ocpp_status          text NOT NULL,
    error_code           text,
    info                 text,
    vendor_error_code    text,
    ocpi_status          text NOT NULL,
    friendly_status      text NOT NULL,
    reported_at          timestamptz,
    created              timestamptz NOT NULL
);
CREATE INDEX station_status_log_station_idx ON station_status_log (charge_station_id, id DESC);

-- Configuration keys (1.6) and device-model variables (2.0.1) last read from the station.
CREATE TABLE station_configuration (
    charge_station_id text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    key               text NOT NULL,
    value             text,
    readonly          boolean NOT NULL DEFAULT false,
    unknown           boolean NOT NULL DEFAULT false,
    component         text,
    variable          text,
    mutability        text,
    updated           timestamptz NOT NULL,
    PRIMARY KEY (charge_station_id, key)
);

-- The latest sample per EVSE, measurand and phase.
CREATE TABLE meter_values (
    charge_station_id    text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    evse_sequence_number integer NOT NULL,
    measurand            text NOT NULL,
    phase                text NOT NULL DEFAULT '',
    value                text NOT NULL,
    unit                 text NOT NULL DEFAULT '',
    sampled_at           timestamptz NOT NULL,
    PRIMARY KEY (charge_station_id, evse_sequence_number, measurand, phase)
);

-- OCPP 1.6 transaction ids are made by the central system; 2.0.1 stations make their own.
CREATE SEQUENCE ocpp16_transaction_ids;
CREATE TABLE transactions (
    charge_station_id    text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    transaction_id       text NOT NULL,
    evse_sequence_number integer NOT NULL DEFAULT 0,
    id_tag               text,
    meter_start_wh       double precision,
    meter_stop_wh        double precision,
    started_at           timestamptz,
    stopped_at           timestamptz,
    stop_reason          text,
    updated              timestamptz NOT NULL,
    PRIMARY KEY (charge_station_id, transaction_id)
);

CREATE TABLE data_transfers (
    id                bigserial PRIMARY KEY,
    charge_station_id text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    direction         text NOT NULL CHECK (direction IN ('in', 'out')),
    vendor_id         text NOT NULL,
    message_id        text,
    data              jsonb,
    response_status   text,
    response_data     jsonb,
    error             text,
    created           timestamptz NOT NULL
);
CREATE INDEX data_transfers_station_idx ON data_transfers (charge_station_id, id DESC);
