DROP TRIGGER charge_stations_log_connectivity ON charge_stations;
DROP FUNCTION charge_stations_log_connectivity();
DROP FUNCTION evse_friendly_status(text, text);
DROP INDEX charge_stations_has_fault_idx;

CREATE OR REPLACE FUNCTION evses_inserted_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]')
    FROM (SELECT DISTINCT charge_station_id FROM new_rows) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;
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
CREATE OR REPLACE FUNCTION evses_deleted_rebuild_doc() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE charge_stations cs
    SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                              FROM evses e WHERE e.charge_station_id = cs.id), '[]')
    FROM (SELECT DISTINCT charge_station_id FROM old_rows) t
    WHERE cs.id = t.charge_station_id;
    RETURN NULL;
END
$$;
ALTER TABLE charge_stations DROP COLUMN has_fault;
ALTER TABLE evses DROP COLUMN charging_state, DROP COLUMN transaction_id;
UPDATE charge_stations cs
SET evses_doc = coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.evse_sequence_number)
                          FROM evses e WHERE e.charge_station_id = cs.id), '[]');

DROP TRIGGER charge_stations_notify_network ON charge_stations;
DROP FUNCTION charge_stations_notify_network();
DROP TRIGGER networks_notify_token_setting ON networks;
DROP FUNCTION networks_notify_token_setting();
DROP TABLE tokens;
DROP FUNCTION tokens_count_changed();
DELETE FROM list_counts WHERE kind = 'tokens';
DROP FUNCTION tokens_notify_changed();
ALTER TABLE networks DROP COLUMN accept_unknown_tokens;
