DROP TRIGGER ocpi_tariffs_party ON networks;
DROP FUNCTION ocpi_tariffs_party_changed();
DROP TRIGGER ocpi_tariffs_push ON tariffs;
DROP FUNCTION ocpi_tariffs_changed();
DELETE FROM ocpi_deliveries WHERE tariff_id IS NOT NULL;
DROP INDEX ocpi_deliveries_tariff_idx;
ALTER TABLE ocpi_deliveries
    DROP CONSTRAINT ocpi_deliveries_kind_check,
    DROP COLUMN tariff_id,
    DROP COLUMN country_code,
    DROP COLUMN party_id,
    ALTER COLUMN location_id SET NOT NULL,
    ALTER COLUMN location_seq SET NOT NULL,
    ADD CONSTRAINT ocpi_deliveries_kind_check CHECK (kind IN ('location', 'evse_status'));
ALTER TABLE ocpi_partners DROP COLUMN tariffs_url;

DELETE FROM list_counts WHERE kind = 'tariffs';
DROP TABLE tariffs;
DROP FUNCTION tariffs_stamp();
