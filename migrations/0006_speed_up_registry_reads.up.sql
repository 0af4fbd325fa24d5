-- Registry reads at a CPO's size (tens of thousands of stations): no whole-table work per
-- list page, one primary-key lookup per station.

-- Lists answer X-Total-Count without counting the whole table on every page: triggers keep
-- the number of stations and locations per network in list_counts, and an unfiltered list
-- sums the rows of the networks a key sees. Each network's count is split over 64 slots
-- picked at random, and the triggers run at commit (deferred), so concurrent writers hold a
-- count's row for the moment of their commit only, and seldom the same one.
CREATE TABLE list_counts (
    kind       text NOT NULL,
    network_id uuid NOT NULL,
    slot       smallint NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (kind, network_id, slot)
);

CREATE FUNCTION list_counts_add(p_kind text, p_network uuid, p_delta bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO list_counts (kind, network_id, slot, n)
    VALUES (p_kind, p_network, floor(random() * 64)::smallint, p_delta)
    ON CONFLICT (kind, network_id, slot) DO UPDATE SET n = list_counts.n + EXCLUDED.n
$$;

-- TG_ARGV[0] is the kind. A row that moves to another network (a location moved, its
-- stations with it) counts in the new one.
CREATE FUNCTION list_counts_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM list_counts_add(TG_ARGV[0], OLD.network_id, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM list_counts_add(TG_ARGV[0], NEW.network_id, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER charge_stations_counted AFTER INSERT OR DELETE ON charge_stations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_counts_changed('charge_stations');
CREATE CONSTRAINT TRIGGER charge_stations_counted_move AFTER UPDATE OF network_id ON charge_stations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.network_id IS DISTINCT FROM NEW.network_id)
    EXECUTE FUNCTION list_counts_changed('charge_stations');
CREATE CONSTRAINT TRIGGER locations_counted AFTER INSERT OR DELETE ON locations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_counts_changed('locations');
CREATE CONSTRAINT TRIGGER locations_counted_move AFTER UPDATE OF network_id ON locations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.network_id IS DISTINCT FROM NEW.network_id)
    EXECUTE FUNCTION list_counts_changed('locations');

INSERT INTO list_counts (kind, network_id, slot, n)
SELECT 'charge_stations', network_id, 0, count(*) FROM charge_stations GROUP BY network_id;
INSERT INTO list_counts (kind, network_id, slot, n)
SELECT 'locations', network_id, 0, count(*) FROM locations GROUP BY network_id;

-- Lists are read in (last_updated, id) order across the networks a key sees; keyset pages
-- (after=…) start inside these indexes.
CREATE INDEX charge_stations_updated_idx ON charge_stations (last_updated, id);
CREATE INDEX charge_stations_station_updated_idx ON charge_stations (station_last_updated, id);
CREATE INDEX locations_updated_idx ON locations (last_updated, id);

-- A station is read with its EVSEs far more often than its EVSEs change: evses_doc keeps the
-- station's EVSE rows as one JSON array (each element to_jsonb of an evses row, in sequence
-- order), so reading a station with its EVSEs is one primary-key lookup. evses stays the
-- source of truth; statement-level triggers rebuild the document of every station a statement
-- touched, whichever code path wrote (API, gateway, SQL).
ALTER TABLE charge_stations ADD COLUMN evses_doc jsonb NOT NULL DEFAULT '[]';

-- The transition tables name the stations a statement touched; each is rebuilt once.
CREATE FUNCTION evses_inserted_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]')
    FROM (SELECT DISTINCT charge_station_id FROM new_rows) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;
CREATE FUNCTION evses_updated_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]')
    FROM (SELECT charge_station_id FROM new_rows UNION SELECT charge_station_id FROM old_rows) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;
CREATE FUNCTION evses_deleted_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]')
    FROM (SELECT DISTINCT charge_station_id FROM old_rows) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER evses_doc_insert AFTER INSERT ON evses
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION evses_inserted_rebuild_doc();
CREATE TRIGGER evses_doc_update AFTER UPDATE ON evses
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION evses_updated_rebuild_doc();
CREATE TRIGGER evses_doc_delete AFTER DELETE ON evses
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION evses_deleted_rebuild_doc();

UPDATE charge_stations cs
SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                          FROM evses e WHERE e.charge_station_id = cs.id), '[]');
