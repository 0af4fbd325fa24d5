-- A status batch writes no station row and takes no station lock.
--
-- Since 0035 the gateway's status transaction writes only the EVSE rows and the status log,
-- yet it still touched one station row per report: the foreign key of station_status_log
-- locks the referenced station row (FOR KEY SHARE, a lock written into the row) for every
-- log entry. Measured with pgbench on the bench's database (101,000 stations, batches of 80
-- reports, 2 clients): the log insert costs 1.6 ms with the key and 1.1 ms without, and with
-- the station locks SetStatuses no longer takes (evse.Store.SetStatuses) a batch went from
-- 360 to 580 a second. The key gives way to statement-level triggers, as the message log's
-- did (0008): deleting stations forgets both logs, and so does creating a station, which
-- clears what a report racing its earlier namesake's deletion may have left (a status batch
-- that read the station before the delete committed and commits after it), so a station
-- created again with an identity still starts with empty logs.
ALTER TABLE station_status_log DROP CONSTRAINT station_status_log_charge_station_id_fkey;

DROP TRIGGER charge_stations_forget_messages ON charge_stations;
DROP FUNCTION ocpp_messages_forget_deleted_stations();

CREATE FUNCTION station_logs_forget_stations() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_ids text[] := ARRAY(SELECT id FROM changed_rows);
BEGIN
    -- By index, however many rows the plan cached at the first call expected.
    DELETE FROM ocpp_messages WHERE charge_station_id = ANY(v_ids);
    DELETE FROM station_status_log WHERE charge_station_id = ANY(v_ids);
    RETURN NULL;
END
$$;
CREATE TRIGGER charge_stations_forget_logs AFTER DELETE ON charge_stations
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION station_logs_forget_stations();
CREATE TRIGGER charge_stations_start_empty_logs AFTER INSERT ON charge_stations
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION station_logs_forget_stations();
