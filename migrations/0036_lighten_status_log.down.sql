DROP TRIGGER charge_stations_start_empty_logs ON charge_stations;
DROP TRIGGER charge_stations_forget_logs ON charge_stations;
DROP FUNCTION station_logs_forget_stations();
CREATE FUNCTION ocpp_messages_forget_deleted_stations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ocpp_messages m USING old_rows o WHERE m.charge_station_id = o.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER charge_stations_forget_messages AFTER DELETE ON charge_stations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpp_messages_forget_deleted_stations();
DELETE FROM station_status_log l WHERE NOT EXISTS (SELECT 1 FROM charge_stations c WHERE c.id = l.charge_station_id);
ALTER TABLE station_status_log ADD CONSTRAINT station_status_log_charge_station_id_fkey
    FOREIGN KEY (charge_station_id) REFERENCES charge_stations (id) ON DELETE CASCADE;
