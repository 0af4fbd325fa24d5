-- An EVSE update rebuilds its station's evses_doc (0006) and now also moves the station's
-- last_updated up to the EVSE's, in the same single UPDATE of the station row. Status reports
-- used to move last_updated in an UPDATE of their own before this trigger rewrote the row:
-- two new versions of every station row per batch, and the second one re-checked the row's
-- foreign keys (PostgreSQL checks them again for a row this transaction already changed),
-- which was most of the cost of a batch of status reports.
CREATE OR REPLACE FUNCTION evses_updated_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]'),
        last_updated = GREATEST(cs.last_updated, t.at)
    FROM (SELECT charge_station_id, max(at) AS at FROM (
              SELECT charge_station_id, last_updated AS at FROM new_rows
              UNION ALL
              SELECT charge_station_id, NULL FROM old_rows) r
          GROUP BY charge_station_id) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;
