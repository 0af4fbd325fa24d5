-- The followers go back into every status transaction (the functions of 0022 and 0033).
DROP FUNCTION evse_status_followers_behind();
DROP FUNCTION evse_status_publish(text[]);
DROP FUNCTION evse_status_follow(text[], timestamptz);
CREATE OR REPLACE FUNCTION evses_updated_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]'),
        has_fault = EXISTS (SELECT 1 FROM evses e WHERE e.charge_station_id = cs.id AND e.status = 'OUTOFORDER'),
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

CREATE OR REPLACE FUNCTION ocpi_evses_updated() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off SET enable_nestloop = off SET enable_mergejoin = off
    SET enable_material = off SET jit = off AS $$
DECLARE
    v_status text[];
    v_full   text[];
BEGIN
    SELECT array_agg(c.uid) FILTER (WHERE c.other),
        array_agg(c.uid) FILTER (WHERE NOT c.other AND c.status_changed)
    INTO v_full, v_status
    FROM (
        SELECT n.uid, n.charge_station_id <> o.charge_station_id AS moved, n.status <> o.status AS status_changed,
            (n.charge_station_id, n.evse_sequence_number, n.evse_id, n.status_schedule, n.capabilities, n.connectors,
                n.floor_level, n.coordinates, n.physical_reference, n.directions, n.parking_restrictions)
            IS DISTINCT FROM (o.charge_station_id, o.evse_sequence_number, o.evse_id, o.status_schedule, o.capabilities,
                o.connectors, o.floor_level, o.coordinates, o.physical_reference, o.directions, o.parking_restrictions) AS other,
            n.charge_station_id
        FROM new_rows n
        JOIN old_rows o ON o.uid = n.uid
    ) c
    WHERE (c.other OR c.status_changed)
        AND (c.moved OR EXISTS (SELECT 1 FROM charge_stations cs
                                WHERE cs.id = c.charge_station_id AND cs.deploy_state = 'Production' OFFSET 0));
    PERFORM ocpi_note('evse', v_full);
    PERFORM ocpi_note('evse_status', v_status);
    RETURN NULL;
END
$$;
