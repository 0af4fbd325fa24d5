DROP TRIGGER ocpi_locations_counted_insert ON ocpi_locations;
CREATE TRIGGER ocpi_locations_counted_insert AFTER INSERT ON ocpi_locations
    FOR EACH ROW EXECUTE FUNCTION list_counts_changed('ocpi_locations');

DROP TRIGGER locations_counted_insert ON locations;
DROP TRIGGER locations_counted_delete ON locations;
CREATE CONSTRAINT TRIGGER locations_counted AFTER INSERT OR DELETE ON locations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_counts_changed('locations');

DROP TRIGGER charge_stations_counted_insert ON charge_stations;
DROP TRIGGER charge_stations_counted_delete ON charge_stations;
CREATE CONSTRAINT TRIGGER charge_stations_counted AFTER INSERT OR DELETE ON charge_stations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_counts_changed('charge_stations');

DROP FUNCTION list_counts_deleted();
DROP FUNCTION list_counts_inserted();
