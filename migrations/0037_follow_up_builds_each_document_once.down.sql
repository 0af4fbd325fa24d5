-- The follow-up as 0035 made it.
CREATE OR REPLACE FUNCTION evse_status_follow(p_ids text[], p_at timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
    SET enable_mergejoin = off SET jit = off AS $$
BEGIN
    RETURN QUERY
    WITH locked AS (
        SELECT id FROM charge_stations WHERE id = ANY(p_ids) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
    ), doc AS (
        SELECT l.id,
            coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                      FROM evses e WHERE e.charge_station_id = l.id), '[]') AS evses,
            EXISTS (SELECT 1 FROM evses e WHERE e.charge_station_id = l.id AND e.status = 'OUTOFORDER') AS fault
        FROM locked l
    ), rewritten AS (
        UPDATE charge_stations cs SET evses_doc = doc.evses, has_fault = doc.fault,
            last_updated = GREATEST(cs.last_updated, p_at)
        FROM doc WHERE cs.id = doc.id AND cs.evses_doc IS DISTINCT FROM doc.evses
    )
    SELECT cs.id FROM unnest(p_ids) AS u(id) JOIN charge_stations cs ON cs.id = u.id
    WHERE NOT EXISTS (SELECT 1 FROM locked l WHERE l.id = u.id);
END
$$;
