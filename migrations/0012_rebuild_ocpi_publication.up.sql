-- OCPI publication at a CPO's size, and what roaming partners found wrong with it (issue 13,
-- items 1, 2, 3, 5 and 6).
--
-- 0003 published per changed row: a trigger per EVSE or station row that looped over every
-- EVSE of the station. This migration replaces it with set-based work in two phases:
--
--   1. Statement-level triggers on evses, charge_stations, locations and networks compare the
--      old and new rows of their transition tables and note, in ocpi_pending, which EVSEs,
--      stations and locations may look different to partners now. A statement that changes
--      nothing partners see (heartbeats, evses_doc rebuilds, last_updated moves) notes nothing.
--   2. At commit, the deferred constraint trigger ocpi_publish takes one advisory transaction
--      lock, brings the published copies of what was noted in line with the registry as this
--      transaction leaves it, stamps every changed copy and EVSE with one millisecond time
--      that is later than every stamp before it, and queues the pushes. The lock is released
--      only once the transaction has committed, so stamps are in commit order: a partner never
--      meets a change whose last_updated is older than one it has already seen.
--
-- Every write to the published tables happens in phase 2, under the lock, so no two
-- transactions ever wait for each other's rows there: gateway batches that touch stations at
-- the same locations cannot deadlock on them. Phase 2 reads what the transactions committed
-- before it (under the lock) as READ COMMITTED statements do, which is how evroam runs every
-- transaction; a REPEATABLE READ or SERIALIZABLE transaction that changes what partners see
-- would work from its older snapshot.
--
-- What partners see is kept per (party, location): a copy. A location that moves to another
-- network, a network that changes its party and a location that is deleted retire their copy
-- (its EVSEs REMOVED, pushed and pulled under the old party) instead of losing it; the new
-- party gets a copy of its own. Copies are never deleted, and their seq is the stable order
-- of a pull.

-- ---- Scope: a partner of a network sees that network and every network below it.

-- ocpi_network_scope holds (ancestor, network) for every network and each of its ancestors,
-- itself included. A network's parent never changes, so rows are only added (by trigger).
CREATE TABLE ocpi_network_scope (
    ancestor_id uuid NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    network_id  uuid NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    PRIMARY KEY (ancestor_id, network_id)
);
CREATE INDEX ocpi_network_scope_network_idx ON ocpi_network_scope (network_id, ancestor_id);

WITH RECURSIVE up (network_id, ancestor_id) AS (
    SELECT id, id FROM networks
    UNION ALL
    SELECT up.network_id, n.parent_id FROM up JOIN networks n ON n.id = up.ancestor_id WHERE n.parent_id IS NOT NULL
)
INSERT INTO ocpi_network_scope (ancestor_id, network_id) SELECT ancestor_id, network_id FROM up;

-- A new network is in the scope of itself and of its ancestors. The pusher is woken: the
-- partners above it must be told of the new party (credentials) before anything is pushed
-- under it.
CREATE FUNCTION ocpi_networks_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH RECURSIVE up (network_id, ancestor_id) AS (
        SELECT id, id FROM new_rows
        UNION ALL
        SELECT up.network_id, n.parent_id FROM up JOIN networks n ON n.id = up.ancestor_id WHERE n.parent_id IS NOT NULL
    )
    INSERT INTO ocpi_network_scope (ancestor_id, network_id) SELECT ancestor_id, network_id FROM up;
    PERFORM pg_notify('ocpi_deliveries', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER ocpi_networks_scope AFTER INSERT ON networks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_networks_inserted();

-- ---- Partners belong to a network.

-- network_id: the network of the API key that created the partner; the partner sees, pulls
-- and is pushed that network and the ones below it. announced_parties: the parties
-- ("NL*EVR") our credentials named in the last exchange with the partner; pushes go only under
-- these. our_versions_url: the versions URL we gave the partner (for our own credentials
-- updates). next_inbound_token_hash: the token we offered in a credentials update that is
-- under way (the partner calls our versions with it before answering).
ALTER TABLE ocpi_partners
    ADD COLUMN network_id uuid REFERENCES networks (id),
    ADD COLUMN announced_parties text[] NOT NULL DEFAULT '{}',
    ADD COLUMN our_versions_url text,
    ADD COLUMN next_inbound_token_hash bytea,
    ADD CONSTRAINT ocpi_partners_next_inbound_token_key UNIQUE (next_inbound_token_hash);
-- Until now every partner saw every network, and our credentials named them all.
UPDATE ocpi_partners SET
    network_id = (SELECT id FROM networks WHERE parent_id IS NULL),
    announced_parties = CASE WHEN state = 'REGISTERED'
        THEN ARRAY(SELECT upper(country_code || '*' || party_id) FROM networks ORDER BY parent_id IS NOT NULL, created, id)
        ELSE '{}' END;
ALTER TABLE ocpi_partners ALTER COLUMN network_id SET NOT NULL;
CREATE INDEX ocpi_partners_network_idx ON ocpi_partners (network_id, last_updated, id);

-- ---- The published copies.

-- ocpi_locations: one row per (party, location) that partners have been shown. seq is the
-- stable order of a pull (copies are appended, never deleted). doc holds the OCPI Location
-- fields as last published (ocpi_location_doc), so a retired copy keeps them after its
-- location is deleted. last_updated is the commit stamp of the latest change of the copy or
-- of one of its EVSEs. change says what the commit that stamped last_updated did to the copy
-- itself: 'full' (created, revived, retired or its fields changed: a PUT) or 'evses' (only
-- EVSEs changed). At most one copy of a location is live (not retired): the one under its
-- network's current party.
CREATE TABLE ocpi_locations (
    seq          bigserial PRIMARY KEY,
    location_id  text NOT NULL,
    network_id   uuid NOT NULL,
    country_code text NOT NULL,
    party_id     text NOT NULL,
    retired      boolean NOT NULL DEFAULT false,
    doc          jsonb NOT NULL,
    last_updated timestamptz NOT NULL,
    change       text NOT NULL DEFAULT 'full' CHECK (change IN ('full', 'evses')),
    CONSTRAINT ocpi_locations_party_key UNIQUE (country_code, party_id, location_id)
);
CREATE UNIQUE INDEX ocpi_locations_live_idx ON ocpi_locations (location_id) WHERE NOT retired;
CREATE INDEX ocpi_locations_network_idx ON ocpi_locations (network_id, seq);
CREATE INDEX ocpi_locations_updated_idx ON ocpi_locations (last_updated, seq);

-- ocpi_evses: the EVSEs of a copy as last published: status, and doc (ocpi_evse_doc: every
-- other field; last_updated is the column). live is false once the EVSE is REMOVED from the
-- copy; such rows stay, so that partners learn of the removal. An EVSE uid is live in one
-- copy at most. change says what the commit that stamped last_updated did: 'status' (only
-- the status: a PATCH) or 'full'. A status change writes status, last_updated and change,
-- none of them indexed, so the new row version can stay on its page (fillfactor).
CREATE TABLE ocpi_evses (
    location_seq      bigint NOT NULL REFERENCES ocpi_locations (seq),
    evse_uid          text NOT NULL,
    charge_station_id text,
    sort_key          text NOT NULL,
    live              boolean NOT NULL,
    status            text NOT NULL,
    doc               jsonb NOT NULL,
    last_updated      timestamptz NOT NULL,
    change            text NOT NULL DEFAULT 'full' CHECK (change IN ('full', 'status')),
    PRIMARY KEY (location_seq, evse_uid),
    CHECK (live = (status <> 'REMOVED'))
) WITH (fillfactor = 80);
CREATE UNIQUE INDEX ocpi_evses_live_uid_idx ON ocpi_evses (evse_uid) WHERE live;
CREATE INDEX ocpi_evses_live_station_idx ON ocpi_evses (charge_station_id) WHERE live;

-- Pull totals without counting: the copies per network, kept in list_counts (migration 0006)
-- like the registry's lists. Copies are never deleted; one changes network only when a
-- party that another network used before is revived.
-- (Copies are made at commit, a few at a time: a row trigger is enough.)
CREATE TRIGGER ocpi_locations_counted_insert AFTER INSERT ON ocpi_locations
    FOR EACH ROW EXECUTE FUNCTION list_counts_changed('ocpi_locations');
CREATE TRIGGER ocpi_locations_counted_move AFTER UPDATE OF network_id ON ocpi_locations
    FOR EACH ROW WHEN (OLD.network_id IS DISTINCT FROM NEW.network_id) EXECUTE FUNCTION list_counts_changed('ocpi_locations');

-- ocpi_capabilities is an EVSE's capabilities joined with its station's, sorted, once each
-- (NULL when there are none).
CREATE FUNCTION ocpi_capabilities(evse_capabilities text[], station_capabilities text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_agg(DISTINCT c ORDER BY c) FROM unnest(evse_capabilities || station_capabilities) AS c
$$;

-- ocpi_evse_doc is the OCPI EVSE document of EVSE e of station cs as partners see it, but for
-- status (ocpi_evse_status) and last_updated: the station's defaults fill in floor level and
-- directions and its capabilities join the EVSE's. default_tariff_id (the station's default
-- tariff) is for connectors without tariff_ids; the view applies it and drops the key. The
-- body is one expression without sub-selects, so the planner inlines it: no whole-row values
-- are built for the call.
CREATE OR REPLACE FUNCTION ocpi_evse_doc(e evses, cs charge_stations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'uid', e.uid,
        'evse_id', e.evse_id,
        'status_schedule', e.status_schedule,
        'capabilities', CASE WHEN cardinality(e.capabilities) + cardinality(cs.capabilities) > 0
            THEN ocpi_capabilities(e.capabilities, cs.capabilities) END,
        'connectors', e.connectors,
        'floor_level', coalesce(e.floor_level, cs.default_charge_station_floor_level),
        'coordinates', e.coordinates,
        'physical_reference', e.physical_reference,
        'directions', coalesce(e.directions, cs.default_charge_station_directions),
        'parking_restrictions', CASE WHEN cardinality(e.parking_restrictions) > 0 THEN to_jsonb(e.parking_restrictions) END,
        'default_tariff_id', cs.default_charge_station_tariff_id
    ))
$$;

-- ocpi_evse_status is the status partners see of EVSE e of station cs: an Offline station's
-- EVSEs read UNKNOWN.
CREATE FUNCTION ocpi_evse_status(e evses, cs charge_stations) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN cs.connectivity_status = 'Offline' THEN 'UNKNOWN' ELSE e.status END
$$;

-- ocpi_location_doc is the OCPI Location fields of location l that come from the location
-- itself (not country_code and party_id, which are the copy's, nor evses and last_updated).
CREATE FUNCTION ocpi_location_doc(l locations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', l.id,
        'publish', l.publish,
        'name', l.name,
        'address', l.address,
        'city', l.city,
        'postal_code', l.postal_code,
        'state', l.state,
        'country', l.country,
        'coordinates', jsonb_build_object('latitude', l.latitude, 'longitude', l.longitude),
        'parking_type', l.parking_type,
        'directions', l.directions,
        'operator', l.operator,
        'suboperator', l.suboperator,
        'owner', l.owner,
        'facilities', CASE WHEN cardinality(l.facilities) > 0 THEN to_jsonb(l.facilities) END,
        'time_zone', l.time_zone,
        'opening_times', l.opening_times,
        'charging_when_closed', l.charging_when_closed
    ))
$$;

-- ---- What 0003 published becomes copies: each published location under its network's party.

INSERT INTO ocpi_locations (location_id, network_id, country_code, party_id, doc, last_updated)
SELECT l.id, n.id, n.country_code, n.party_id, ocpi_location_doc(l),
    date_trunc('milliseconds', greatest(l.last_updated, p.last_updated))
FROM (
    SELECT location_id, max(last_updated) AS last_updated, min(last_updated) AS first_published
    FROM ocpi_published_evses GROUP BY location_id
) p
JOIN locations l ON l.id = p.location_id
JOIN networks n ON n.id = l.network_id
ORDER BY p.first_published, l.id;

-- An EVSE uid is live in one copy at most; should 0003 have left one live twice, the latest wins.
INSERT INTO ocpi_evses (location_seq, evse_uid, charge_station_id, sort_key, live, status, doc, last_updated)
SELECT c.seq, p.evse_uid, p.charge_station_id, p.sort_key, p.live,
    CASE WHEN p.live THEN p.evse->>'status' ELSE 'REMOVED' END, p.evse - 'status',
    date_trunc('milliseconds', p.last_updated)
FROM (
    SELECT x.*, x.evse->>'status' <> 'REMOVED'
        AND row_number() OVER (PARTITION BY x.evse_uid, x.evse->>'status' <> 'REMOVED' ORDER BY x.last_updated DESC, x.location_id) = 1 AS live
    FROM ocpi_published_evses x
) p
JOIN ocpi_locations c ON c.location_id = p.location_id;

-- Queued pushes name the copy they push; pushes of locations no longer published were
-- dropped unsent by 0003's pusher, and are dropped here.
ALTER TABLE ocpi_deliveries ADD COLUMN location_seq bigint REFERENCES ocpi_locations (seq);
UPDATE ocpi_deliveries d SET location_seq = c.seq FROM ocpi_locations c WHERE c.location_id = d.location_id;
DELETE FROM ocpi_deliveries WHERE location_seq IS NULL;
ALTER TABLE ocpi_deliveries ALTER COLUMN location_seq SET NOT NULL;

-- ---- 0003's row-level publication goes.

DROP TRIGGER ocpi_locations_publish ON locations;
DROP TRIGGER ocpi_charge_stations_unpublish ON charge_stations;
DROP TRIGGER ocpi_charge_stations_publish ON charge_stations;
DROP TRIGGER ocpi_evses_publish ON evses;
DROP FUNCTION ocpi_locations_changed();
DROP FUNCTION ocpi_charge_stations_changed();
DROP FUNCTION ocpi_evses_changed();
DROP FUNCTION ocpi_sync_station(text);
DROP FUNCTION ocpi_enqueue(text, text, text);
DROP TABLE ocpi_published_evses;

-- ---- Phase 1: what a statement may have changed, noted for the commit.

-- ocpi_pending: per transaction (xid: txid_current()) and statement, the keys whose
-- publication the commit must check, one row per statement and kind whatever the number of
-- keys: EVSE uids ('evse'), station ids ('station') and location ids ('location'), and EVSE
-- uids and station ids of which nothing but the status can have changed ('evse_status',
-- 'station_status': a report of the gateway), whose check is cheaper. ocpi_commits: one row
-- per transaction with something pending; inserting it queues the commit-time trigger once.
-- Both are emptied by that trigger before its transaction commits, and need no WAL: after a
-- crash no transaction is left to finish.
CREATE UNLOGGED TABLE ocpi_pending (
    xid  bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('evse', 'station', 'location', 'evse_status', 'station_status')),
    keys text[] NOT NULL
);
CREATE INDEX ocpi_pending_xid_idx ON ocpi_pending (xid);
CREATE UNLOGGED TABLE ocpi_commits (
    xid bigint PRIMARY KEY
);

-- ocpi_note notes keys of kind for this transaction's commit (nothing when keys is NULL).
CREATE FUNCTION ocpi_note(p_kind text, p_keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_keys IS NOT NULL THEN
        INSERT INTO ocpi_pending (xid, kind, keys) VALUES (txid_current(), p_kind, p_keys);
        INSERT INTO ocpi_commits (xid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- The statements below join hundreds of rows (a gateway batch) to a few rows each of large
-- tables: index lookups are what that takes. The SET clauses keep the planner, misled by
-- small tables, stale statistics after a bulk load, or the row estimates of transition tables
-- and arrays, from scanning (or hashing, or materializing) a whole table instead, so that
-- the cost follows the number of changes. (The transition tables of a charge_stations update
-- are joined to each other only, by hash: that stays allowed.)

-- EVSEs of Production stations: a new one; a changed one when anything published about it
-- changed, its status alone (a status report) or more; one that changed station. A deleted
-- EVSE that is live somewhere.
CREATE FUNCTION ocpi_evses_inserted() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET enable_material = off SET jit = off AS $$
BEGIN
    PERFORM ocpi_note('evse', (
        SELECT array_agg(n.uid)
        FROM new_rows n
        JOIN charge_stations cs ON cs.id = n.charge_station_id
        WHERE cs.deploy_state = 'Production'));
    RETURN NULL;
END
$$;

CREATE FUNCTION ocpi_evses_updated() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off SET enable_mergejoin = off SET enable_material = off SET jit = off AS $$
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
        AND (c.moved OR EXISTS (SELECT 1 FROM charge_stations cs WHERE cs.id = c.charge_station_id AND cs.deploy_state = 'Production'));
    PERFORM ocpi_note('evse', v_full);
    PERFORM ocpi_note('evse_status', v_status);
    RETURN NULL;
END
$$;

CREATE FUNCTION ocpi_evses_deleted() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET enable_material = off SET jit = off AS $$
BEGIN
    PERFORM ocpi_note('evse', (
        SELECT array_agg(o.uid)
        FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM ocpi_evses p WHERE p.evse_uid = o.uid AND p.live)));
    RETURN NULL;
END
$$;

CREATE TRIGGER ocpi_evses_insert AFTER INSERT ON evses
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_evses_inserted();
CREATE TRIGGER ocpi_evses_update AFTER UPDATE ON evses
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_evses_updated();
CREATE TRIGGER ocpi_evses_delete AFTER DELETE ON evses
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_evses_deleted();

-- Stations in (or leaving) Production whose published inputs changed: the connectivity alone
-- (a connection starting or ending) or more. A deleted Production station. The gateway updates
-- stations all the time (boots, heartbeats, last_updated, evses_doc): for those statements
-- this is one hash join of the two transition tables that finds nothing.
CREATE FUNCTION ocpi_charge_stations_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_status text[];
    v_full   text[];
BEGIN
    SELECT array_agg(c.id) FILTER (WHERE c.other),
        array_agg(c.id) FILTER (WHERE NOT c.other AND c.connectivity_changed)
    INTO v_full, v_status
    FROM (
        SELECT n.id, n.connectivity_status IS DISTINCT FROM o.connectivity_status AS connectivity_changed,
            (n.deploy_state, n.location_id, n.capabilities, n.default_charge_station_tariff_id,
                n.default_charge_station_floor_level, n.default_charge_station_directions)
            IS DISTINCT FROM (o.deploy_state, o.location_id, o.capabilities, o.default_charge_station_tariff_id,
                o.default_charge_station_floor_level, o.default_charge_station_directions) AS other
        FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        WHERE n.deploy_state = 'Production' OR o.deploy_state = 'Production'
    ) c;
    PERFORM ocpi_note('station', v_full);
    PERFORM ocpi_note('station_status', v_status);
    RETURN NULL;
END
$$;

CREATE FUNCTION ocpi_charge_stations_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ocpi_note('station', (SELECT array_agg(o.id) FROM old_rows o WHERE o.deploy_state = 'Production'));
    RETURN NULL;
END
$$;

CREATE TRIGGER ocpi_charge_stations_update AFTER UPDATE ON charge_stations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_charge_stations_updated();
CREATE TRIGGER ocpi_charge_stations_delete AFTER DELETE ON charge_stations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_charge_stations_deleted();

-- Locations with a live copy: a change of their published fields or of their network; a
-- deletion.
CREATE FUNCTION ocpi_locations_updated() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off SET enable_mergejoin = off SET enable_material = off SET jit = off AS $$
BEGIN
    PERFORM ocpi_note('location', (
        SELECT array_agg(n.id)
        FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        WHERE (n.network_id <> o.network_id OR ocpi_location_doc(n) IS DISTINCT FROM ocpi_location_doc(o))
            AND EXISTS (SELECT 1 FROM ocpi_locations c WHERE c.location_id = n.id AND NOT c.retired)));
    RETURN NULL;
END
$$;

CREATE FUNCTION ocpi_locations_deleted() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET enable_material = off SET jit = off AS $$
BEGIN
    PERFORM ocpi_note('location', (
        SELECT array_agg(o.id)
        FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM ocpi_locations c WHERE c.location_id = o.id AND NOT c.retired)));
    RETURN NULL;
END
$$;

CREATE TRIGGER ocpi_locations_update AFTER UPDATE ON locations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_locations_updated();
CREATE TRIGGER ocpi_locations_delete AFTER DELETE ON locations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_locations_deleted();

-- Networks: a new party retires every live copy of the network's locations (and the commit
-- publishes them again under the new party). The pusher is woken to update the credentials
-- of the partners that see the network.
CREATE FUNCTION ocpi_networks_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
               WHERE (n.country_code, n.party_id) IS DISTINCT FROM (o.country_code, o.party_id)) THEN
        PERFORM ocpi_note('location', (
            SELECT array_agg(c.location_id)
            FROM new_rows n
            JOIN old_rows o ON o.id = n.id
            JOIN ocpi_locations c ON c.network_id = n.id AND NOT c.retired
            WHERE (n.country_code, n.party_id) IS DISTINCT FROM (o.country_code, o.party_id)));
        PERFORM pg_notify('ocpi_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER ocpi_networks_update AFTER UPDATE ON networks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ocpi_networks_updated();

-- ---- Phase 2: at commit.

-- ocpi_publish_changes brings the copies of the noted keys in line with the registry, stamps
-- every row it changes with p_ts and queues their pushes. It runs under ocpi_publish's lock.
-- Every statement is driven by the noted keys (an unnest joined through indexes), so its
-- cost follows the number of changes, not the size of the tables.
CREATE FUNCTION ocpi_publish_changes(p_evses text[], p_stations text[], p_locations text[],
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

-- ocpi_publish runs once per transaction with something pending, at its commit. The advisory
-- lock ("ocpistmp") is held until the commit is done, so each stamp is later than those of
-- every transaction that became visible before, whichever started first.
CREATE FUNCTION ocpi_publish() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_xid      bigint := txid_current();
    v_ts       timestamptz;
    v_evses    text[];
    v_stations text[];
    v_locs     text[];
    v_evse_st  text[];
    v_sta_st   text[];
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
    PERFORM pg_advisory_xact_lock(8026382559115242864); -- "ocpistmp"
    SELECT greatest(date_trunc('milliseconds', clock_timestamp()),
            coalesce(max(last_updated), '-infinity') + interval '1 millisecond')
    INTO v_ts
    FROM ocpi_locations;
    PERFORM ocpi_publish_changes(v_evses, v_stations, v_locs, v_evse_st, v_sta_st, v_ts);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ocpi_publish AFTER INSERT ON ocpi_commits
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ocpi_publish();
