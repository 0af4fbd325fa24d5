
-- The OCPP proxy (package proxy): operators a station's connection is forwarded to. At most
-- one Billing operator per station (it decides authorisation); the password the link presents
-- upstream is kept encrypted (AES-GCM under a key derived from EVROAM_SECRET_KEY), because it
-- must be sent, not only checked. connection_status, last_error and last_connected_at are
-- written by the node that holds the station's socket and its links.
CREATE TABLE station_operators (
    id                 uuid PRIMARY KEY,
    charge_station_id  text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    name               text NOT NULL,
    url                text NOT NULL,
    role               text NOT NULL CHECK (role IN ('Billing', 'DataAndControl')),
    identity           text,
    password_sealed    bytea,
    enabled            boolean NOT NULL DEFAULT true,
    connection_status  text NOT NULL DEFAULT 'Disconnected'
                       CHECK (connection_status IN ('Connected', 'Connecting', 'Disconnected', 'Disabled')),
    last_error         text,
    last_connected_at  timestamptz,
    created            timestamptz NOT NULL,
    last_updated       timestamptz NOT NULL
);
CREATE INDEX station_operators_station_idx ON station_operators (charge_station_id, created, id);
CREATE UNIQUE INDEX station_operators_one_billing ON station_operators (charge_station_id) WHERE role = 'Billing';

-- A change of a station's operators wakes the node that holds the station, whichever node
-- served the API call, so the links follow without a station reconnect.
CREATE FUNCTION station_operators_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('station_operators_changed', OLD.charge_station_id);
    ELSIF TG_OP = 'UPDATE' AND NEW.name = OLD.name AND NEW.url = OLD.url AND NEW.role = OLD.role
        AND NEW.identity IS NOT DISTINCT FROM OLD.identity
        AND NEW.password_sealed IS NOT DISTINCT FROM OLD.password_sealed AND NEW.enabled = OLD.enabled THEN
        -- a status update by the link itself: nothing to follow
        RETURN NULL;
    ELSE
        PERFORM pg_notify('station_operators_changed', NEW.charge_station_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER station_operators_notify AFTER INSERT OR UPDATE OR DELETE ON station_operators
    FOR EACH ROW EXECUTE FUNCTION station_operators_notify();

-- Transaction-related messages (1.6 StartTransaction, StopTransaction and MeterValues of a
-- transaction; 2.0.1 TransactionEvent) for an operator, in the order the station sent them:
-- OCPP requires them delivered, so an operator that is down gets them when it is back.
CREATE TABLE operator_queue (
    id                      bigserial PRIMARY KEY,
    operator_id             uuid NOT NULL REFERENCES station_operators (id) ON DELETE CASCADE,
    action                  text NOT NULL,
    payload                 jsonb NOT NULL,
    -- the transaction id the station uses, for a 1.6 StartTransaction: the operator's own
    -- id from its answer is mapped to it
    station_transaction_id  text,
    created                 timestamptz NOT NULL
);
CREATE INDEX operator_queue_operator_idx ON operator_queue (operator_id, id);

-- 1.6 transaction ids: the station uses the authority's (the Billing operator's, else
-- evroam's); every other party (evroam itself, 'evroam', or an operator's id) has its own,
-- mapped here.
CREATE TABLE operator_transactions (
    charge_station_id       text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    station_transaction_id  text NOT NULL,
    party                   text NOT NULL,
    party_transaction_id    text NOT NULL,
    created                 timestamptz NOT NULL,
    PRIMARY KEY (charge_station_id, station_transaction_id, party)
);

-- The message log names the operator of a forwarded frame (NULL: the station's own link).
ALTER TABLE ocpp_messages ADD COLUMN operator text;

