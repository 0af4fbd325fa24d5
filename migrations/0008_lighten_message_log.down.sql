DROP TRIGGER charge_stations_forget_messages ON charge_stations;
DROP FUNCTION ocpp_messages_forget_deleted_stations();
DELETE FROM ocpp_messages m WHERE NOT EXISTS (SELECT 1 FROM charge_stations c WHERE c.id = m.charge_station_id);
ALTER TABLE ocpp_messages ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
ALTER TABLE ocpp_messages ADD CONSTRAINT ocpp_messages_charge_station_id_fkey
    FOREIGN KEY (charge_station_id) REFERENCES charge_stations (id) ON DELETE CASCADE;
