-- list_counts (0006, 0015) was kept by a trigger per inserted or deleted row. One statement
-- that inserts or deletes many rows (a bulk import, deleting a network with its stations,
-- publishing a batch of locations) then updated the same few count rows once per row in one
-- transaction: every update leaves a row version the next one has to step over, and 10,000
-- stations took 4 s to insert, 100,000 about 5 minutes. Now a statement trigger adds each
-- network's count once per statement, from the statement's transition table.
--
-- The count is added when the statement ends rather than at commit. That holds the count
-- slot a little longer, which list_counts_add (0015) allows for: another writer takes a
-- slot that nobody holds.

CREATE FUNCTION list_counts_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT network_id, count(*) AS n FROM changed_rows GROUP BY network_id ORDER BY network_id LOOP
        PERFORM list_counts_add(TG_ARGV[0], r.network_id, r.n);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION list_counts_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT network_id, count(*) AS n FROM changed_rows GROUP BY network_id ORDER BY network_id LOOP
        PERFORM list_counts_add(TG_ARGV[0], r.network_id, -r.n);
    END LOOP;
    RETURN NULL;
END
$$;

DROP TRIGGER charge_stations_counted ON charge_stations;
CREATE TRIGGER charge_stations_counted_insert AFTER INSERT ON charge_stations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION list_counts_inserted('charge_stations');
CREATE TRIGGER charge_stations_counted_delete AFTER DELETE ON charge_stations
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION list_counts_deleted('charge_stations');

DROP TRIGGER locations_counted ON locations;
CREATE TRIGGER locations_counted_insert AFTER INSERT ON locations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION list_counts_inserted('locations');
CREATE TRIGGER locations_counted_delete AFTER DELETE ON locations
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION list_counts_deleted('locations');

DROP TRIGGER ocpi_locations_counted_insert ON ocpi_locations;
CREATE TRIGGER ocpi_locations_counted_insert AFTER INSERT ON ocpi_locations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION list_counts_inserted('ocpi_locations');

-- Moves between networks stay row triggers (a statement trigger with transition tables
-- cannot be limited to one column, and would run for every status update): a move touches
-- the stations of one location at a time.
