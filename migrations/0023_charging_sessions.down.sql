DROP TRIGGER transactions_counted_delete ON transactions;
DROP TRIGGER transactions_counted_insert ON transactions;
DROP FUNCTION transactions_counted();
DELETE FROM list_counts WHERE kind = 'sessions';
DROP TABLE session_states;
DROP TABLE session_meter_values;
DROP INDEX transactions_active_idx;
DROP INDEX transactions_sync_idx;
DROP INDEX transactions_station_sync_idx;
DROP INDEX transactions_network_sync_idx;
DROP INDEX transactions_start16_key;
ALTER TABLE transactions
    DROP CONSTRAINT transactions_id_key,
    DROP COLUMN last_energy_at,
    DROP COLUMN last_energy_wh,
    DROP COLUMN max_power_w,
    DROP COLUMN csms_made_id,
    DROP COLUMN status,
    DROP COLUMN stop_id_tag,
    DROP COLUMN id_token_type,
    DROP COLUMN connector_id,
    DROP COLUMN location_id,
    DROP COLUMN network_id,
    DROP COLUMN id;
