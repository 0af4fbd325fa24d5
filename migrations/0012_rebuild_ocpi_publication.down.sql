-- Back to 0003's row-level publication: ocpi_published_evses holds what the copies of the
-- locations that still exist show (the live copy's rows first), 0003's triggers return, and
-- the copies, scopes and commit-time machinery go.

DROP TRIGGER ocpi_publish ON ocpi_commits;
DROP FUNCTION ocpi_publish();
DROP FUNCTION ocpi_publish_changes(text[], text[], text[], text[], text[], timestamptz);
DROP TRIGGER ocpi_networks_update ON networks;
DROP FUNCTION ocpi_networks_updated();
DROP TRIGGER ocpi_locations_delete ON locations;
DROP TRIGGER ocpi_locations_update ON locations;
DROP FUNCTION ocpi_locations_deleted();
DROP FUNCTION ocpi_locations_updated();
DROP TRIGGER ocpi_charge_stations_delete ON charge_stations;
DROP TRIGGER ocpi_charge_stations_update ON charge_stations;
DROP FUNCTION ocpi_charge_stations_deleted();
DROP FUNCTION ocpi_charge_stations_updated();
DROP TRIGGER ocpi_evses_delete ON evses;
DROP TRIGGER ocpi_evses_update ON evses;
DROP TRIGGER ocpi_evses_insert ON evses;
DROP FUNCTION ocpi_evses_deleted();
DROP FUNCTION ocpi_evses_updated();
DROP FUNCTION ocpi_evses_inserted();
DROP FUNCTION ocpi_note(text, text[]);
DROP TABLE ocpi_commits;
DROP TABLE ocpi_pending;

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

INSERT INTO ocpi_published_evses (location_id, evse_uid, charge_station_id, sort_key, evse, last_updated)
SELECT DISTINCT ON (c.location_id, e.evse_uid) c.location_id, e.evse_uid, e.charge_station_id, e.sort_key,
    e.doc || jsonb_build_object('status', e.status), e.last_updated
FROM ocpi_evses e
JOIN ocpi_locations c ON c.seq = e.location_seq
JOIN locations l ON l.id = c.location_id
ORDER BY c.location_id, e.evse_uid, c.retired, e.last_updated DESC;

ALTER TABLE ocpi_deliveries DROP COLUMN location_seq;
DELETE FROM list_counts WHERE kind = 'ocpi_locations';
DROP TABLE ocpi_evses;
DROP TABLE ocpi_locations;
DROP FUNCTION ocpi_location_doc(locations);
DROP FUNCTION ocpi_evse_status(evses, charge_stations);
DROP FUNCTION ocpi_evse_doc(evses, charge_stations);
DROP FUNCTION ocpi_capabilities(text[], text[]);

DROP INDEX ocpi_partners_network_idx;
ALTER TABLE ocpi_partners
    DROP CONSTRAINT ocpi_partners_next_inbound_token_key,
    DROP COLUMN next_inbound_token_hash,
    DROP COLUMN our_versions_url,
    DROP COLUMN announced_parties,
    DROP COLUMN network_id;

DROP TRIGGER ocpi_networks_scope ON networks;
DROP FUNCTION ocpi_networks_inserted();
DROP TABLE ocpi_network_scope;

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

-- ocpi_evse_doc is the OCPI EVSE document of EVSE e of station cs, as partners see it: the
-- station's defaults fill in floor level and directions, its capabilities join the EVSE's,
-- and an Offline station's EVSEs read UNKNOWN. default_tariff_id (the station's default
-- tariff) is for connectors without tariff_ids; the view applies it and drops the key.
CREATE FUNCTION ocpi_evse_doc(e evses, cs charge_stations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'uid', e.uid,
        'evse_id', e.evse_id,
        'status', CASE WHEN cs.connectivity_status = 'Offline' THEN 'UNKNOWN' ELSE e.status END,
        'status_schedule', e.status_schedule,
        'capabilities', (SELECT jsonb_agg(DISTINCT c ORDER BY c) FROM unnest(e.capabilities || cs.capabilities) AS c),
        'connectors', e.connectors,
        'floor_level', coalesce(e.floor_level, cs.default_charge_station_floor_level),
        'coordinates', e.coordinates,
        'physical_reference', e.physical_reference,
        'directions', coalesce(e.directions, cs.default_charge_station_directions),
        'parking_restrictions', CASE WHEN cardinality(e.parking_restrictions) > 0 THEN to_jsonb(e.parking_restrictions) END,
        'default_tariff_id', cs.default_charge_station_tariff_id
    ))
$$;

-- ocpi_sync_station brings ocpi_published_evses in line with station p_station: the EVSEs of
-- a Production station are published (and republished when their document changes); every
-- other EVSE published for the station (station no longer in Production, deleted, moved to
-- another location, or EVSE deleted) is kept with status REMOVED. Each change stamps
-- last_updated and queues pushes: an EVSE whose status alone changed is a PATCH of the EVSE,
-- anything else a PUT of the location.
CREATE FUNCTION ocpi_sync_station(p_station text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cs  charge_stations;
    e   evses;
    p   ocpi_published_evses;
    doc jsonb;
    ts  timestamptz := clock_timestamp();
    published boolean;
BEGIN
    SELECT * INTO cs FROM charge_stations WHERE id = p_station;
    published := FOUND AND cs.deploy_state = 'Production';
    IF published THEN
        FOR e IN SELECT * FROM evses WHERE charge_station_id = p_station LOOP
            doc := ocpi_evse_doc(e, cs);
            SELECT * INTO p FROM ocpi_published_evses WHERE location_id = cs.location_id AND evse_uid = e.uid;
            IF NOT FOUND THEN
                INSERT INTO ocpi_published_evses (location_id, evse_uid, charge_station_id, sort_key, evse, last_updated)
                VALUES (cs.location_id, e.uid, p_station, p_station || '/' || lpad(e.evse_sequence_number::text, 6, '0'), doc, ts);
                PERFORM ocpi_enqueue('location', cs.location_id, NULL);
            ELSIF p.evse IS DISTINCT FROM doc OR p.charge_station_id IS DISTINCT FROM p_station THEN
                UPDATE ocpi_published_evses
                SET evse = doc, last_updated = ts, charge_station_id = p_station,
                    sort_key = p_station || '/' || lpad(e.evse_sequence_number::text, 6, '0')
                WHERE location_id = cs.location_id AND evse_uid = e.uid;
                IF (p.evse - 'status') = (doc - 'status') AND p.evse->>'status' <> 'REMOVED' THEN
                    PERFORM ocpi_enqueue('evse_status', cs.location_id, e.uid);
                ELSE
                    PERFORM ocpi_enqueue('location', cs.location_id, NULL);
                END IF;
            END IF;
        END LOOP;
    END IF;
    FOR p IN
        SELECT * FROM ocpi_published_evses pe
        WHERE pe.charge_station_id = p_station AND pe.evse->>'status' <> 'REMOVED'
            AND NOT (published AND pe.location_id = cs.location_id
                AND EXISTS (SELECT 1 FROM evses x WHERE x.uid = pe.evse_uid AND x.charge_station_id = p_station))
    LOOP
        UPDATE ocpi_published_evses
        SET evse = jsonb_set(evse, '{status}', '"REMOVED"'), last_updated = ts
        WHERE location_id = p.location_id AND evse_uid = p.evse_uid;
        PERFORM ocpi_enqueue('location', p.location_id, NULL);
    END LOOP;
END;
$$;

CREATE FUNCTION ocpi_evses_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM ocpi_sync_station(OLD.charge_station_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.charge_station_id IS DISTINCT FROM OLD.charge_station_id) THEN
        PERFORM ocpi_sync_station(NEW.charge_station_id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ocpi_evses_publish
    AFTER INSERT OR UPDATE OR DELETE ON evses
    FOR EACH ROW EXECUTE FUNCTION ocpi_evses_changed();

CREATE FUNCTION ocpi_charge_stations_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ocpi_sync_station(OLD.id);
    IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN
        PERFORM ocpi_sync_station(NEW.id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ocpi_charge_stations_publish
    AFTER UPDATE ON charge_stations
    FOR EACH ROW
    WHEN (OLD.deploy_state IS DISTINCT FROM NEW.deploy_state
        OR OLD.location_id IS DISTINCT FROM NEW.location_id
        OR OLD.id IS DISTINCT FROM NEW.id
        OR OLD.connectivity_status IS DISTINCT FROM NEW.connectivity_status
        OR OLD.capabilities IS DISTINCT FROM NEW.capabilities
        OR OLD.default_charge_station_tariff_id IS DISTINCT FROM NEW.default_charge_station_tariff_id
        OR OLD.default_charge_station_floor_level IS DISTINCT FROM NEW.default_charge_station_floor_level
        OR OLD.default_charge_station_directions IS DISTINCT FROM NEW.default_charge_station_directions)
    EXECUTE FUNCTION ocpi_charge_stations_changed();
CREATE TRIGGER ocpi_charge_stations_unpublish
    AFTER DELETE ON charge_stations
    FOR EACH ROW EXECUTE FUNCTION ocpi_charge_stations_changed();

-- A change of a published location is a PUT of it; a deleted location (it had no stations
-- left, so all its EVSEs were REMOVED already) leaves the view.
CREATE FUNCTION ocpi_locations_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM ocpi_published_evses WHERE location_id = OLD.id;
        DELETE FROM ocpi_deliveries WHERE location_id = OLD.id;
    ELSIF EXISTS (SELECT 1 FROM ocpi_published_evses WHERE location_id = NEW.id) THEN
        PERFORM ocpi_enqueue('location', NEW.id, NULL);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ocpi_locations_publish
    AFTER UPDATE OR DELETE ON locations
    FOR EACH ROW EXECUTE FUNCTION ocpi_locations_changed();
