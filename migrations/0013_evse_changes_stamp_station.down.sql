CREATE OR REPLACE FUNCTION evses_updated_rebuild_doc() RETURNS trigger
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
