-- OCPI publication (0012) did all of its work at commit under one lock, so that stamps
-- follow commit order: every transaction that changed published data queued for it, and the
-- writers of the registry (status batches, connects, stations created through the API) went
-- one at a time through the whole publication. Now only the stamping is under that lock:
--
--  1. At commit, ocpi_publish first takes a lock per location the transaction may publish
--     (advisory, in one global order, so two publishers of the same location take turns and
--     never deadlock on its copy's rows), then writes the copies and their EVSEs as 0012
--     did, stamped with a placeholder ('infinity', invisible to everyone else until commit).
--  2. Then it takes the stamping lock, picks the stamp as 0012 did (later than every stamp
--     visible), replaces its placeholders with it and queues the pushes (ocpi_stamp). The
--     lock is held until the commit is done, so stamps still follow commit order.
--
-- Publishers of different locations now run side by side; only the stamping is one at a
-- time.

CREATE OR REPLACE FUNCTION ocpi_publish_changes(p_evses text[], p_stations text[], p_locations text[],
    p_evse_statuses text[], p_station_statuses text[], p_ts timestamptz) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET enable_material = off SET jit = off AS $$
DECLARE
    v_moved   text[];
    v_uids    text[];
    v_seqs    bigint[];
    -- The plan: one entry per EVSE whose publication changes.
    v_uid     text[];
    v_seq     bigint[];  -- the copy it belongs in (NULL: none, it is no longer published)
    v_station text[];
    v_sort    text[];
    v_status  text[];
    v_doc     jsonb[];
    v_change  text[];
    v_live    bigint[];  -- the copy it is live in now (NULL: none)
    v_need    text[];    -- locations that need a copy first
BEGIN
    IF p_locations IS NOT NULL THEN
        -- A deleted location, or one whose network or party is no longer its copy's: the copy
        -- retires, its EVSEs REMOVED. A moved location is published again below.
        WITH retired AS (
            UPDATE ocpi_locations c SET retired = true, last_updated = p_ts, change = 'full'
            FROM unnest(p_locations) AS k(id)
            LEFT JOIN locations l ON l.id = k.id
            LEFT JOIN networks n ON n.id = l.network_id
            WHERE c.location_id = k.id AND NOT c.retired
                AND (l.id IS NULL OR c.network_id <> n.id OR c.country_code <> n.country_code OR c.party_id <> n.party_id)
            RETURNING c.seq, l.id AS moved
        )
        SELECT array_agg(seq), array_agg(moved) FILTER (WHERE moved IS NOT NULL) INTO v_seqs, v_moved FROM retired;
        UPDATE ocpi_evses e SET live = false, status = 'REMOVED', last_updated = p_ts, change = 'full'
        FROM unnest(v_seqs) AS r(seq)
        WHERE e.location_seq = r.seq AND e.live;

        -- The fields of the live copies.
        UPDATE ocpi_locations c SET doc = d.doc, last_updated = p_ts, change = 'full'
        FROM (
            SELECT l.id, ocpi_location_doc(l) AS doc FROM unnest(p_locations) AS k(id) JOIN locations l ON l.id = k.id
        ) d
        WHERE c.location_id = d.id AND NOT c.retired AND c.doc IS DISTINCT FROM d.doc;
        v_seqs := NULL;
    END IF;

    -- The EVSEs to check whole: those noted, every EVSE of the noted stations and of the
    -- moved locations, and whatever is live of the noted stations (a deleted station has no
    -- EVSEs left).
    SELECT array_agg(DISTINCT uid) INTO v_uids FROM (
        SELECT k.uid FROM unnest(p_evses) AS k(uid)
        UNION ALL
        SELECT e.uid FROM unnest(p_stations) AS s(id) JOIN evses e ON e.charge_station_id = s.id
        UNION ALL
        SELECT p.evse_uid FROM unnest(p_stations) AS s(id) JOIN ocpi_evses p ON p.charge_station_id = s.id AND p.live
        UNION ALL
        SELECT e.uid FROM unnest(v_moved) AS m(id)
            JOIN charge_stations cs ON cs.location_id = m.id
            JOIN evses e ON e.charge_station_id = cs.id
    ) x;

    IF v_uids IS NOT NULL THEN
        -- Where each EVSE should be published (the live copy of its Production station's
        -- location), where it is live now, and how it differs. A location without a live copy
        -- gets one (or its retired copy under the same party comes back, keeping its place in
        -- the order) and the plan is made again: that happens once per location.
        FOR attempt IN 1..2 LOOP
            -- (MATERIALIZED: each document is built once, not once per mention.)
            WITH x AS MATERIALIZED (
                SELECT u.uid, cs.id AS station, cs.location_id, c.seq,
                    cs.id || '/' || lpad(e.evse_sequence_number::text, 6, '0') AS sort_key,
                    CASE WHEN cs.id IS NOT NULL THEN ocpi_evse_status(e, cs) END AS status,
                    CASE WHEN cs.id IS NOT NULL THEN ocpi_evse_doc(e, cs) END AS doc,
                    lv.location_seq AS live_seq, lv.status AS live_status, lv.doc AS live_doc,
                    lv.charge_station_id AS live_station, lv.sort_key AS live_sort
                FROM unnest(v_uids) AS u(uid)
                LEFT JOIN evses e ON e.uid = u.uid
                LEFT JOIN charge_stations cs ON cs.id = e.charge_station_id AND cs.deploy_state = 'Production'
                LEFT JOIN ocpi_locations c ON c.location_id = cs.location_id AND NOT c.retired
                LEFT JOIN ocpi_evses lv ON lv.evse_uid = u.uid AND lv.live
            )
            SELECT array_agg(x.uid), array_agg(x.seq), array_agg(x.station), array_agg(x.sort_key),
                array_agg(x.status), array_agg(x.doc),
                array_agg(CASE WHEN x.live_seq = x.seq AND x.live_doc = x.doc AND x.live_station = x.station
                    AND x.live_sort = x.sort_key THEN 'status' ELSE 'full' END),
                array_agg(x.live_seq),
                array_agg(DISTINCT x.location_id) FILTER (WHERE x.station IS NOT NULL AND x.seq IS NULL)
            INTO v_uid, v_seq, v_station, v_sort, v_status, v_doc, v_change, v_live, v_need
            FROM x
            WHERE x.live_seq IS DISTINCT FROM x.seq
                OR (x.station IS NOT NULL AND x.seq IS NULL)
                OR (x.seq IS NOT NULL AND (x.live_status <> x.status OR x.live_doc <> x.doc
                    OR x.live_station <> x.station OR x.live_sort <> x.sort_key));
            EXIT WHEN v_need IS NULL;
            IF attempt = 2 THEN
                RAISE EXCEPTION 'ocpi: no live copy for locations % after making them', v_need;
            END IF;
            INSERT INTO ocpi_locations (location_id, network_id, country_code, party_id, doc, last_updated, change)
            SELECT l.id, n.id, n.country_code, n.party_id, ocpi_location_doc(l), p_ts, 'full'
            FROM unnest(v_need) AS k(id)
            JOIN locations l ON l.id = k.id
            JOIN networks n ON n.id = l.network_id
            ORDER BY l.created, l.id
            ON CONFLICT (country_code, party_id, location_id) DO UPDATE SET
                retired = false, network_id = excluded.network_id, doc = excluded.doc,
                last_updated = excluded.last_updated, change = 'full';
        END LOOP;

        -- An EVSE live where it should no longer be (station out of Production, deleted or
        -- moved, EVSE deleted or moved to another station) is REMOVED there. This comes first:
        -- a uid is live in one copy at most.
        WITH gone AS (
            UPDATE ocpi_evses p SET live = false, status = 'REMOVED', last_updated = p_ts, change = 'full'
            FROM unnest(v_live, v_uid, v_seq) AS r(live_seq, uid, seq)
            WHERE r.live_seq IS DISTINCT FROM r.seq AND p.location_seq = r.live_seq AND p.evse_uid = r.uid
            RETURNING p.location_seq
        )
        SELECT array_agg(location_seq) INTO v_seqs FROM gone;

        -- Every EVSE of a Production station is live in its location's copy: inserted, brought
        -- back or updated. A change of the status alone of a live EVSE is a PATCH ('status');
        -- anything else a PUT of the location.
        WITH put AS (
            INSERT INTO ocpi_evses (location_seq, evse_uid, charge_station_id, sort_key, live, status, doc, last_updated, change)
            SELECT r.seq, r.uid, r.station, r.sort_key, true, r.status, r.doc, p_ts, r.change
            FROM unnest(v_seq, v_uid, v_station, v_sort, v_status, v_doc, v_change)
                AS r(seq, uid, station, sort_key, status, doc, change)
            WHERE r.seq IS NOT NULL
            ON CONFLICT (location_seq, evse_uid) DO UPDATE SET
                charge_station_id = excluded.charge_station_id, sort_key = excluded.sort_key, live = true,
                status = excluded.status, doc = excluded.doc, last_updated = excluded.last_updated, change = excluded.change
            RETURNING location_seq
        )
        SELECT v_seqs || array_agg(location_seq) INTO v_seqs FROM put;
    END IF;

    -- Status reports: for a live EVSE whose status alone can have changed (its own report, or
    -- its station's connection) the status is all there is to compare. EVSEs checked whole
    -- above were stamped already ('full') and are left alone. Each statement reaches the rows
    -- it updates through the index it is driven by.
    IF p_evse_statuses IS NOT NULL THEN
        WITH changed AS (
            UPDATE ocpi_evses p SET status = ocpi_evse_status(e, cs), last_updated = p_ts, change = 'status'
            FROM unnest(p_evse_statuses) AS u(uid)
            JOIN evses e ON e.uid = u.uid
            JOIN charge_stations cs ON cs.id = e.charge_station_id
            WHERE p.evse_uid = u.uid AND p.live AND p.charge_station_id = cs.id
                AND p.status <> ocpi_evse_status(e, cs) AND NOT (p.last_updated = p_ts AND p.change = 'full')
            RETURNING p.location_seq
        )
        SELECT v_seqs || array_agg(location_seq) INTO v_seqs FROM changed;
    END IF;
    IF p_station_statuses IS NOT NULL THEN
        WITH changed AS (
            UPDATE ocpi_evses p SET status = ocpi_evse_status(e, cs), last_updated = p_ts, change = 'status'
            FROM unnest(p_station_statuses) AS k(id)
            JOIN charge_stations cs ON cs.id = k.id
            JOIN evses e ON e.charge_station_id = k.id
            WHERE p.charge_station_id = k.id AND p.live AND p.evse_uid = e.uid
                AND p.status <> ocpi_evse_status(e, cs) AND NOT (p.last_updated = p_ts AND p.change = 'full')
            RETURNING p.location_seq
        )
        SELECT v_seqs || array_agg(location_seq) INTO v_seqs FROM changed;
    END IF;

    -- A copy's last_updated is the latest of its own and its EVSEs'.
    UPDATE ocpi_locations c SET last_updated = p_ts, change = 'evses'
    FROM (SELECT DISTINCT seq FROM unnest(v_seqs) AS s(seq)) t
    WHERE c.seq = t.seq AND c.last_updated <> p_ts;

END
$$;

-- ocpi_stamp gives what this transaction published the stamp p_ts (its placeholders
-- 'infinity') and queues the pushes. It runs under the stamping lock.
CREATE FUNCTION ocpi_stamp(p_ts timestamptz) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
BEGIN
    WITH stamped AS (
        UPDATE ocpi_locations SET last_updated = p_ts WHERE last_updated = 'infinity' RETURNING seq
    )
    UPDATE ocpi_evses e SET last_updated = p_ts
    FROM stamped s WHERE e.location_seq = s.seq AND e.last_updated = 'infinity';

    -- Pushes of what this commit stamped, to every registered partner with a Locations
    -- receiver whose scope holds the copy's network: a PUT of the copy when it or one of its
    -- EVSEs changed more than a status, else a PATCH per EVSE. Copies that lost an EVSE go
    -- first, so that a partner is told an EVSE left one location before it is shown in
    -- another.
    WITH touched AS (
        SELECT c.seq, c.location_id, c.network_id,
            c.change = 'full' OR EXISTS (
                SELECT 1 FROM ocpi_evses e WHERE e.location_seq = c.seq AND e.last_updated = p_ts AND e.change = 'full') AS put,
            EXISTS (SELECT 1 FROM ocpi_evses e WHERE e.location_seq = c.seq AND e.last_updated = p_ts AND NOT e.live) AS lost
        FROM ocpi_locations c
        WHERE c.last_updated = p_ts
    ), pushes AS (
        SELECT t.seq, t.location_id, t.network_id, t.lost, 'location' AS kind, NULL::text AS evse_uid
        FROM touched t WHERE t.put
        UNION ALL
        SELECT t.seq, t.location_id, t.network_id, t.lost, 'evse_status', e.evse_uid
        FROM touched t JOIN ocpi_evses e ON e.location_seq = t.seq AND e.last_updated = p_ts
        WHERE NOT t.put
    )
    INSERT INTO ocpi_deliveries (partner_id, kind, location_seq, location_id, evse_uid)
    SELECT pt.id, x.kind, x.seq, x.location_id, x.evse_uid
    FROM pushes x
    JOIN ocpi_network_scope s ON s.network_id = x.network_id
    JOIN ocpi_partners pt ON pt.network_id = s.ancestor_id
    WHERE pt.state = 'REGISTERED' AND pt.locations_url IS NOT NULL
    ORDER BY x.lost DESC, x.seq, x.evse_uid NULLS FIRST, pt.id;
    IF FOUND THEN
        PERFORM pg_notify('ocpi_deliveries', '');
    END IF;
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
    FOR v_lock IN
        SELECT DISTINCT hashtext(l) FROM (
            SELECT unnest(v_locs) AS l
            UNION ALL
            SELECT cs.location_id FROM unnest(v_stations || v_sta_st) AS s(id) JOIN charge_stations cs ON cs.id = s.id
            UNION ALL
            SELECT cs.location_id FROM unnest(v_evses || v_evse_st) AS u(uid)
                JOIN evses e ON e.uid = u.uid JOIN charge_stations cs ON cs.id = e.charge_station_id
            UNION ALL
            SELECT c.location_id FROM unnest(v_evses || v_evse_st) AS u(uid)
                JOIN ocpi_evses p ON p.evse_uid = u.uid AND p.live JOIN ocpi_locations c ON c.seq = p.location_seq
            UNION ALL
            SELECT c.location_id FROM unnest(v_stations || v_sta_st) AS s(id)
                JOIN ocpi_evses p ON p.charge_station_id = s.id AND p.live JOIN ocpi_locations c ON c.seq = p.location_seq
            UNION ALL
            SELECT c.location_id FROM unnest(v_locs) AS m(id)
                JOIN charge_stations cs ON cs.location_id = m.id
                JOIN ocpi_evses p ON p.charge_station_id = cs.id AND p.live JOIN ocpi_locations c ON c.seq = p.location_seq
        ) x
        WHERE l IS NOT NULL
        ORDER BY 1
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
