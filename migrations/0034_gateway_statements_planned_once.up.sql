-- Two statements of the OCPP gateway were planned again at nearly every call: the lookup of
-- the stations of a batch of logins (chargestations.LookupManyForGateway) and the write of a
-- batch of session claims, releases and leaves (cluster: writeSessions). Both take arrays of
-- identities; for an array of a few ids the planner finds a custom plan (one that knows the
-- array's length) cheaper than the generic one, and plans again. With pg_stat_statements
-- tracking planning, a reconnect storm of 10,000 known stations planned the claim 762 times
-- in 762 calls (0.4 ms each) and the lookup 890 times in 1,650 calls (0.2 ms each): about half
-- a second of PostgreSQL's CPU, an eighth of what the storm cost it.
--
-- The statements move into PL/pgSQL functions that always use their generic plans, made once
-- per connection. Their arrays hold the stations of one batch, so the right plan is an index
-- lookup per identity whatever the tables' size. A generic plan is kept for as long as the
-- connection lives, and one made while a table was small (station_sessions and
-- station_configurations start empty) would scan it whole at every call as it grows: as in
-- 0032, sequential scans, hash and merge joins are off, so the plan uses the indexes whatever
-- the statistics said when it was made.

CREATE FUNCTION gateway_stations(p_ids text[]) RETURNS TABLE (
    id text, location_id text, security_profile smallint, ocpp_password_hash text,
    ocpp_password_verifier bytea, ocpp_password_other_hash text, ocpp_password_other_verifier bytea,
    security_profile_pending smallint, onboarding_state text, last_boot_at timestamptz,
    firmware_version text, has_configuration boolean, has_operators boolean)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
    SET enable_mergejoin = off SET jit = off AS $$
BEGIN
    RETURN QUERY
    SELECT cs.id, cs.location_id, cs.security_profile, cs.ocpp_password_hash, cs.ocpp_password_verifier,
        cs.ocpp_password_other_hash, cs.ocpp_password_other_verifier, cs.security_profile_pending,
        cs.onboarding_state, cs.last_boot_at, cs.firmware_version,
        -- Not EXISTS: for that the planner may choose a hashed subplan, which reads the whole
        -- table once per call.
        coalesce((SELECT true FROM station_configurations c WHERE c.charge_station_id = cs.id LIMIT 1), false),
        coalesce((SELECT true FROM station_operators o WHERE o.charge_station_id = cs.id LIMIT 1), false)
    FROM charge_stations cs
    WHERE cs.id = ANY(p_ids);
END
$$;

-- Per station, the caller passes at most one change: a claim upserts the row (the newest
-- connection winning) and clears a leave; a release deletes the row and a leave marks it,
-- only if it is still that session's. The nodes that held the claimed stations until now
-- (the statement's snapshot is from before the claims) hear it at commit, on their channel
-- (cluster: channelOf).
CREATE FUNCTION cluster_write_sessions(p_node text,
    p_claim_ids text[], p_claim_sessions uuid[], p_claim_protocols text[], p_claim_ats timestamptz[],
    p_release_ids text[], p_release_sessions uuid[],
    p_leave_ids text[], p_leave_sessions uuid[], p_leave_ats timestamptz[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
    SET enable_mergejoin = off SET jit = off AS $$
DECLARE
    v_superseded bigint;
BEGIN
    WITH claimed AS (
        INSERT INTO station_sessions (charge_station_id, node_id, session_id, protocol_version, connected_at)
        SELECT u.id, p_node, u.sid, u.proto, u.at
        FROM unnest(p_claim_ids, p_claim_sessions, p_claim_protocols, p_claim_ats) AS u(id, sid, proto, at)
        ORDER BY u.id
        ON CONFLICT (charge_station_id) DO UPDATE SET
            node_id          = EXCLUDED.node_id,
            session_id       = EXCLUDED.session_id,
            protocol_version = EXCLUDED.protocol_version,
            connected_at     = EXCLUDED.connected_at,
            left_at          = NULL
    ), released AS (
        DELETE FROM station_sessions s
        USING unnest(p_release_ids, p_release_sessions) AS u(id, sid)
        WHERE s.charge_station_id = u.id AND s.session_id = u.sid
    ), left_ AS (
        UPDATE station_sessions s SET left_at = u.at
        FROM unnest(p_leave_ids, p_leave_sessions, p_leave_ats) AS u(id, sid, at)
        WHERE s.charge_station_id = u.id AND s.session_id = u.sid
    ), superseded AS (
        SELECT pg_notify('evroam_node_' || left(encode(sha256(convert_to(s.node_id, 'UTF8')), 'hex'), 16),
            'drop:' || s.session_id || ':' || s.charge_station_id)
        FROM station_sessions s
        WHERE s.charge_station_id = ANY(p_claim_ids) AND s.node_id <> p_node AND s.left_at IS NULL
    )
    SELECT count(*) INTO v_superseded FROM superseded;
END
$$;
