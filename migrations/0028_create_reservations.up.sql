-- Reservations (issue 14): an EVSE kept for one token until an expiry, made by a charger
-- command (POST /api/v1/chargers/{id}/reserve) or an OCPI partner's RESERVE_NOW, and sent to
-- the station as OCPP ReserveNow. While a reservation is ACTIVE and not expired, its EVSE
-- reads RESERVED (REST status, OCPI Locations) whatever code path writes the EVSE.

CREATE TABLE reservations (
    -- the OCPP reservationId (1.6 and 2.0.1 integer id); unique per station
    charge_station_id    text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    reservation_id       integer NOT NULL CHECK (reservation_id > 0),
    evse_sequence_number integer NOT NULL CHECK (evse_sequence_number > 0),
    id_tag               text NOT NULL,
    expiry               timestamptz NOT NULL,
    -- ACTIVE: the station accepted it; CANCELLED: cancelled and the station accepted;
    -- EXPIRED: its expiry passed; USED: a session started on its EVSE with its token.
    status               text NOT NULL CHECK (status IN ('ACTIVE', 'CANCELLED', 'EXPIRED', 'USED')),
    -- the OCPI partner that made it and the partner's reservation_id (NULL for the REST API)
    ocpi_partner_id      uuid REFERENCES ocpi_partners (id) ON DELETE SET NULL,
    ocpi_reservation_id  text,
    -- the RESERVE_NOW's response_url: where the partner is told CANCELED_RESERVATION when the
    -- operator cancels its reservation
    ocpi_response_url    text,
    created              timestamptz NOT NULL,
    last_updated         timestamptz NOT NULL,
    PRIMARY KEY (charge_station_id, reservation_id)
);
-- A partner's reservation_id names one reservation (a RESERVE_NOW with a known one replaces it).
CREATE UNIQUE INDEX reservations_ocpi_key ON reservations (ocpi_partner_id, ocpi_reservation_id)
    WHERE ocpi_partner_id IS NOT NULL;
-- The active ones: what the EVSE trigger, the transactions trigger and the expiry sweep read.
CREATE INDEX reservations_active_idx ON reservations (charge_station_id, evse_sequence_number) WHERE status = 'ACTIVE';
CREATE INDEX reservations_expiry_idx ON reservations (expiry) WHERE status = 'ACTIVE';

-- An EVSE that would read AVAILABLE reads RESERVED while an unexpired ACTIVE reservation holds
-- it: a station that reports Available (or no Reserved at all) cannot free a reserved EVSE;
-- one that reports Charging, Faulted, … still shows what it reports.
CREATE FUNCTION evses_keep_reserved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'AVAILABLE' AND EXISTS (
        SELECT 1 FROM reservations r
        WHERE r.charge_station_id = NEW.charge_station_id AND r.evse_sequence_number = NEW.evse_sequence_number
            AND r.status = 'ACTIVE' AND r.expiry > now()) THEN
        NEW.status := 'RESERVED';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER evses_keep_reserved BEFORE INSERT OR UPDATE OF status ON evses
    FOR EACH ROW EXECUTE FUNCTION evses_keep_reserved();

-- A session that starts on a reserved EVSE with the reservation's token uses the reservation
-- up (1.6 StartTransaction, 2.0.1 TransactionEvent: whichever creates or completes the
-- session row). Statement-level: the gateway writes sessions in batches.
CREATE FUNCTION transactions_use_reservations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reservations r SET status = 'USED', last_updated = now()
    FROM changed_sessions t
    WHERE r.status = 'ACTIVE' AND t.status = 'ACTIVE'
        AND r.charge_station_id = t.charge_station_id AND r.evse_sequence_number = t.evse_sequence_number
        AND upper(r.id_tag) = upper(t.id_tag);
    RETURN NULL;
END
$$;
CREATE TRIGGER transactions_use_reservations_insert AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS changed_sessions FOR EACH STATEMENT EXECUTE FUNCTION transactions_use_reservations();
CREATE TRIGGER transactions_use_reservations_update AFTER UPDATE ON transactions
    REFERENCING NEW TABLE AS changed_sessions FOR EACH STATEMENT EXECUTE FUNCTION transactions_use_reservations();
