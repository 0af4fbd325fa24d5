-- The OCPI publication at commit (ocpi_publish, 0016) was planned again at every commit that
-- publishes: every station created, every status batch, every batch of connects. PL/pgSQL
-- passes its variables as parameters, and for some statements the planner kept preferring a
-- custom plan (one that knows which arrays are empty) to the generic one. With
-- pg_stat_statements tracking nested statements and planning, creating 10,000 stations
-- through the API spent about 1.3 ms planning per commit on the query that finds the
-- locations to lock, 0.5 ms on ocpi_stamp's query of the pushes to queue and 0.35 ms on
-- ocpi_publish_changes' query of the EVSEs involved, each for a few hundredths of a
-- millisecond of execution.
--
-- These functions now always use their generic plans, made once per connection. Their
-- arrays hold the keys of one commit, so the right plan is nested loops over the indexes
-- whatever the tables' size: ocpi_publish_changes already turns sequential scans, hash and
-- merge joins off, ocpi_stamp sequential scans, and the location query, which moves into a
-- function of its own for it, all three.

ALTER FUNCTION ocpi_publish_changes(text[], text[], text[], text[], text[], timestamptz)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ocpi_stamp(timestamptz) SET plan_cache_mode = force_generic_plan;

CREATE FUNCTION ocpi_location_lock_keys(p_evses text[], p_stations text[], p_locs text[]) RETURNS SETOF int
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
    SET enable_mergejoin = off SET jit = off AS $$
BEGIN
    RETURN QUERY
        SELECT DISTINCT hashtext(l) FROM (
            SELECT unnest(p_locs) AS l
            UNION ALL
            SELECT cs.location_id FROM unnest(p_stations) AS s(id) JOIN charge_stations cs ON cs.id = s.id
            UNION ALL
            SELECT cs.location_id FROM unnest(p_evses) AS u(uid)
                JOIN evses e ON e.uid = u.uid JOIN charge_stations cs ON cs.id = e.charge_station_id
            UNION ALL
            SELECT c.location_id FROM unnest(p_evses) AS u(uid)
                JOIN ocpi_evses p ON p.evse_uid = u.uid AND p.live JOIN ocpi_locations c ON c.seq = p.location_seq
            UNION ALL
            SELECT c.location_id FROM unnest(p_stations) AS s(id)
                JOIN ocpi_evses p ON p.charge_station_id = s.id AND p.live JOIN ocpi_locations c ON c.seq = p.location_seq
            UNION ALL
            SELECT c.location_id FROM unnest(p_locs) AS m(id)
                JOIN charge_stations cs ON cs.location_id = m.id
                JOIN ocpi_evses p ON p.charge_station_id = cs.id AND p.live JOIN ocpi_locations c ON c.seq = p.location_seq
        ) x
        WHERE l IS NOT NULL
        ORDER BY 1;
END
$$;

CREATE OR REPLACE FUNCTION ocpi_publish() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_xid      bigint := txid_current();
    v_ts       timestamptz;
    v_evses    text[];
    v_stations text[];
    v_locs     text[];
    v_evse_st  text[];
    v_sta_st   text[];
    v_lock     int;
BEGIN
    DELETE FROM ocpi_commits WHERE xid = v_xid;
    WITH p AS (DELETE FROM ocpi_pending WHERE xid = v_xid RETURNING kind, keys)
    SELECT array_agg(DISTINCT k) FILTER (WHERE p.kind = 'evse'),
        array_agg(DISTINCT k) FILTER (WHERE p.kind = 'station'),
        array_agg(DISTINCT k) FILTER (WHERE p.kind = 'location'),
        array_agg(DISTINCT k) FILTER (WHERE p.kind = 'evse_status'),
        array_agg(DISTINCT k) FILTER (WHERE p.kind = 'station_status')
    INTO v_evses, v_stations, v_locs, v_evse_st, v_sta_st
    FROM p, unnest(p.keys) AS k;

    -- The locations whose copies this may write: the noted ones, those of the noted stations
    -- and of the stations of the noted EVSEs, and those of the copies their EVSEs are live in
    -- now (also for the stations of a noted location, which may move). Locked in the order of
    -- their lock keys.
    FOR v_lock IN SELECT ocpi_location_lock_keys(v_evses || v_evse_st, v_stations || v_sta_st, v_locs)
    LOOP
        PERFORM pg_advisory_xact_lock(1869898864, v_lock); -- "ocpl": a location's copies
    END LOOP;

    PERFORM ocpi_publish_changes(v_evses, v_stations, v_locs, v_evse_st, v_sta_st, 'infinity');

    PERFORM pg_advisory_xact_lock(8026382559115242864); -- "ocpistmp"
    SELECT greatest(date_trunc('milliseconds', clock_timestamp()),
            coalesce(max(last_updated), '-infinity') + interval '1 millisecond')
    INTO v_ts
    FROM ocpi_locations WHERE last_updated < 'infinity';
    PERFORM ocpi_stamp(v_ts);
    RETURN NULL;
END
$$;
