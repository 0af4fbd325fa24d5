-- The message log takes every frame of every station (tens of thousands a second at a CPO's
-- size), written in batches. Two per-row costs go: the payload is kept as json (the text as
-- it crossed the wire; jsonb would parse and rebuild every payload, and refuses "\u0000"
-- that stations do send), and the foreign key to charge_stations (a lookup per row) gives
-- way to a statement-level trigger that forgets the log of deleted stations.
ALTER TABLE ocpp_messages DROP CONSTRAINT ocpp_messages_charge_station_id_fkey;
ALTER TABLE ocpp_messages ALTER COLUMN payload TYPE json USING payload::json;

CREATE FUNCTION ocpp_messages_forget_deleted_stations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ocpp_messages m USING old_rows o WHERE m.charge_station_id = o.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER charge_stations_forget_messages AFTER DELETE ON charge_stations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpp_messages_forget_deleted_stations();
