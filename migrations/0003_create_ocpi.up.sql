-- OCPI 2.2.1 roaming partners. A partner is registered in one of two directions:
-- initiator 'partner': we issued a TOKEN_A and the partner POSTs its credentials to us;
-- initiator 'evroam': the partner gave us its TOKEN_A and we POSTed our credentials to it.
-- Tokens that partners present to us are stored as SHA-256 hashes; the token we present to
-- the partner (outbound_token) is stored as is, since we must send it.
CREATE TABLE ocpi_partners (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL,
    initiator            text NOT NULL CHECK (initiator IN ('partner', 'evroam')),
    state                text NOT NULL CHECK (state IN ('PENDING', 'REGISTERED', 'UNREGISTERED', 'FAILED')),
    token_a_hash         bytea,
    inbound_token_hash   bytea,
    outbound_token       text,
    partner_versions_url text,
    version              text,
    endpoints            jsonb NOT NULL DEFAULT '[]',
    roles                jsonb NOT NULL DEFAULT '[]',
    locations_url        text,
    last_error           text,
    created              timestamptz NOT NULL,
    last_updated         timestamptz NOT NULL,
    CONSTRAINT ocpi_partners_token_a_key UNIQUE (token_a_hash),
    CONSTRAINT ocpi_partners_inbound_token_key UNIQUE (inbound_token_hash)
);
CREATE INDEX ocpi_partners_list_idx ON ocpi_partners (last_updated, id);

-- What the Locations module has published: one row per EVSE that partners have been shown,
-- with the EVSE as last published (an OCPI EVSE document; its last_updated is the column).
-- The triggers below keep it: an EVSE of a Production station is published; when its
-- station leaves Production, is deleted or moves away, its row stays with status REMOVED, so
-- that partners learn of the removal. A location is in the OCPI view when it has a row here.
CREATE TABLE ocpi_published_evses (
    location_id      text NOT NULL,
    evse_uid         text NOT NULL,
    charge_station_id text,
    sort_key         text NOT NULL DEFAULT '',
    evse             jsonb NOT NULL,
    last_updated     timestamptz NOT NULL,
    PRIMARY KEY (location_id, evse_uid)
);
CREATE INDEX ocpi_published_evses_station_idx ON ocpi_published_evses (charge_station_id);

-- Pushes to partners' Locations receivers: one row per partner and change, filled by the
-- triggers below in the transaction that makes the change, so that no write path (REST API,
-- OCPP gateway, SQL) can change a published object without its push being queued, and a
-- restart loses none. Rows of one (partner, location) are sent in id order; a failed row
-- waits (next_attempt_at) and holds back the later rows of its location.
CREATE TABLE ocpi_deliveries (
    id              bigserial PRIMARY KEY,
    partner_id      uuid NOT NULL REFERENCES ocpi_partners (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('location', 'evse_status')),
    location_id     text NOT NULL,
    evse_uid        text,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ocpi_deliveries_object_idx ON ocpi_deliveries (partner_id, location_id, id);

-- ocpi_enqueue queues a push of kind for every registered partner with a Locations receiver
-- and wakes the pusher (LISTEN ocpi_deliveries).
CREATE FUNCTION ocpi_enqueue(p_kind text, p_location_id text, p_evse_uid text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ocpi_deliveries (partner_id, kind, location_id, evse_uid)
    SELECT id, p_kind, p_location_id, p_evse_uid
    FROM ocpi_partners
    WHERE state = 'REGISTERED' AND locations_url IS NOT NULL;
    IF FOUND THEN
        PERFORM pg_notify('ocpi_deliveries', '');
    END IF;
END;
$$;
