-- list_counts_add (0006) picked one of 64 slots at random and waited when another
-- transaction held it. Counts are updated at commit, and at commit a transaction may hold
-- its slot while it queues for the OCPI publication lock (0012): others that picked the same
-- slot then queued behind it, and creating stations through the API fell from about 200/s
-- to 20-30/s. Now a writer takes a slot no other transaction holds (FOR UPDATE SKIP LOCKED),
-- or adds a new one (up to 256), and waits only when all are busy.
CREATE OR REPLACE FUNCTION list_counts_add(p_kind text, p_network uuid, p_delta bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_slot smallint;
    v_added bigint;
BEGIN
    SELECT slot INTO v_slot FROM list_counts
    WHERE kind = p_kind AND network_id = p_network
    ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        UPDATE list_counts SET n = n + p_delta
        WHERE kind = p_kind AND network_id = p_network AND slot = v_slot;
        RETURN;
    END IF;
    INSERT INTO list_counts (kind, network_id, slot, n)
    SELECT p_kind, p_network, s, p_delta FROM generate_series(0, 255) AS s
    WHERE NOT EXISTS (SELECT 1 FROM list_counts c WHERE c.kind = p_kind AND c.network_id = p_network AND c.slot = s)
    ORDER BY random() LIMIT 1
    ON CONFLICT (kind, network_id, slot) DO UPDATE SET n = list_counts.n + EXCLUDED.n;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    IF v_added = 0 THEN
        -- All 256 slots exist and are held: wait for one.
        INSERT INTO list_counts (kind, network_id, slot, n)
        VALUES (p_kind, p_network, floor(random() * 256)::smallint, p_delta)
        ON CONFLICT (kind, network_id, slot) DO UPDATE SET n = list_counts.n + EXCLUDED.n;
    END IF;
END
$$;
