-- A status report's followers move off its reply path.
--
-- An EVSE's status is followed by two things derived from it: its station's row (evses_doc,
-- has_fault and last_updated, rebuilt by evses_updated_rebuild_doc, 0022) and its OCPI
-- publication (ocpi_evses_updated notes it, ocpi_publish writes the copies at commit, 0016).
-- For a batch of 22 status reports the EVSE rows and the status log cost about 2.6 ms of
-- PostgreSQL, and the two followers 3.5 more: the station row is rewritten whole (seven index
-- entries, never a HOT update) and the commit takes the location locks and the global OCPI
-- stamping lock one batch after the other. A station waits for all of it before its
-- StatusNotification is answered.
--
-- The gateway's status transactions now set evroam.status_followers to 'deferred' (for the
-- transaction only): the two triggers leave such an update alone, and the gateway brings the
-- followers up to date right after the commit, with evse_status_follow and
-- evse_status_publish, for every station whose statuses it wrote since its last call
-- (stationreports: statusFollower). Under load
-- one call covers many reports of the same station. Every other writer of EVSEs (the API,
-- reservations, transactions) keeps its followers in its own transaction, as before.
--
-- A node that stops between the two leaves followers behind; evse_status_followers_behind
-- finds them (a node runs it when it starts) from what the rows themselves say.

CREATE OR REPLACE FUNCTION evses_updated_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('evroam.status_followers', true) = 'deferred' THEN
        RETURN NULL;
    END IF;
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
    IF current_setting('evroam.status_followers', true) = 'deferred' THEN
        RETURN NULL;
    END IF;
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

-- evse_status_follow rewrites the rows of the given stations whose EVSE document differs
-- from their EVSEs, stamped p_at (the time of this call, not of the reports: a partner that
-- synced between a report and this call must still find the station changed after its
-- checkpoint). It skips the rows a status batch holds (they are locked in id order, as every
-- writer of many stations locks them, but without waiting: a status batch would otherwise
-- wait for this statement's locks, and this statement for the next batch's) and returns the
-- stations it skipped, for the caller to try again. Like the gateway's other statements
-- (0034) it keeps one generic plan of index lookups.
CREATE FUNCTION evse_status_follow(p_ids text[], p_at timestamptz) RETURNS SETOF text
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

-- evse_status_publish notes the statuses of the EVSEs of the given stations that are in
-- Production for OCPI, which publishes at commit what differs from its copies. It locks no
-- station row, so it runs in a transaction of its own, before evse_status_follow.
CREATE FUNCTION evse_status_publish(p_ids text[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
    SET enable_mergejoin = off SET jit = off AS $$
BEGIN
    PERFORM ocpi_note('station_status',
        (SELECT array_agg(id) FROM charge_stations WHERE id = ANY(p_ids) AND deploy_state = 'Production'));
END
$$;

-- evse_status_followers_behind returns the stations whose row lags their EVSEs: an EVSE
-- whose status or last_updated is not what its station's document says. The follow-up
-- publishes to OCPI before it rewrites the rows, so a station whose OCPI copies lag has a
-- lagging row too. It reads every EVSE (about two seconds of PostgreSQL for 200,000), once,
-- when a node starts.
CREATE FUNCTION evse_status_followers_behind() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT e.charge_station_id FROM evses e JOIN charge_stations cs ON cs.id = e.charge_station_id
    WHERE NOT cs.evses_doc @> jsonb_build_array(jsonb_build_object('uid', e.uid, 'status', e.status,
            'ocpp_status', e.ocpp_status, 'last_updated', e.last_updated))
$$;
