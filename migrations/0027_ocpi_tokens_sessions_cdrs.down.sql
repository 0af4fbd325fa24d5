DROP TRIGGER ocpi_sessions_updated ON transactions;
DROP TRIGGER ocpi_sessions_inserted ON transactions;
DROP FUNCTION ocpi_sessions_changed();
DELETE FROM ocpi_deliveries WHERE kind IN ('session', 'cdr');
ALTER TABLE ocpi_deliveries
    DROP CONSTRAINT ocpi_deliveries_kind_check,
    DROP COLUMN session_id,
    DROP COLUMN cdr_id,
    ADD CONSTRAINT ocpi_deliveries_kind_check CHECK (CASE
        WHEN kind IN ('location', 'evse_status') THEN location_seq IS NOT NULL AND location_id IS NOT NULL AND tariff_id IS NULL
        WHEN kind IN ('tariff', 'tariff_delete') THEN tariff_id IS NOT NULL AND country_code IS NOT NULL AND party_id IS NOT NULL
            AND location_seq IS NULL AND location_id IS NULL
        ELSE false END);
DROP TABLE ocpi_cdrs;
DROP TABLE ocpi_sessions;
DROP TABLE ocpi_authorizations;
ALTER TABLE ocpi_partners
    DROP COLUMN tokens_url, DROP COLUMN sessions_url, DROP COLUMN cdrs_url, DROP COLUMN tokens_synced_at;

-- Partner tokens go first, while the count trigger still leaves them out.
DELETE FROM tokens WHERE ocpi_partner_id IS NOT NULL;

CREATE OR REPLACE FUNCTION tokens_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    SELECT string_agg(DISTINCT network_id::text, E'\n') INTO payload FROM changed_tokens;
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('tokens_changed', payload);
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION tokens_count_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT network_id, count(*) AS n FROM changed_rows GROUP BY network_id ORDER BY network_id LOOP
        PERFORM list_counts_add('tokens', r.network_id, CASE WHEN TG_OP = 'DELETE' THEN -r.n ELSE r.n END);
    END LOOP;
    RETURN NULL;
END
$$;
DROP INDEX tokens_roaming_match_idx;
DROP INDEX tokens_partner_uid_key;
DROP INDEX tokens_network_uid_key;
ALTER TABLE tokens ADD CONSTRAINT tokens_network_uid_key UNIQUE (network_id, match_uid);
ALTER TABLE tokens
    DROP CONSTRAINT tokens_partner_party_check,
    DROP COLUMN ocpi_partner_id, DROP COLUMN country_code, DROP COLUMN party_id, DROP COLUMN energy_contract;
