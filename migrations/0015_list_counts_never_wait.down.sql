CREATE OR REPLACE FUNCTION list_counts_add(p_kind text, p_network uuid, p_delta bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO list_counts (kind, network_id, slot, n)
    VALUES (p_kind, p_network, floor(random() * 64)::smallint, p_delta)
    ON CONFLICT (kind, network_id, slot) DO UPDATE SET n = list_counts.n + EXCLUDED.n
$$;
