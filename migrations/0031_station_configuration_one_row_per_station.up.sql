-- The configuration read from a station (GetConfiguration, GetVariables, and the changes it
-- accepted) was one row per key: every station booting for the first time wrote tens of
-- rows, each with its primary-key entry and its foreign-key check, and in a boot storm of
-- 10,000 stations that insert was the costliest statement (about 1.1 ms per station). Now a
-- station's configuration is one row, its keys in one document:
--   key → {value (null: none sent), readonly, unknown, component, variable, mutability, updated}
-- A merge is the old document || the new keys (jsonb concatenation replaces a key's entry).
CREATE TABLE station_configurations (
    charge_station_id text PRIMARY KEY REFERENCES charge_stations (id) ON DELETE CASCADE,
    keys              jsonb NOT NULL
);

INSERT INTO station_configurations (charge_station_id, keys)
SELECT charge_station_id, jsonb_object_agg(key, jsonb_build_object(
        'value', value, 'readonly', readonly, 'unknown', unknown, 'component', component,
        'variable', variable, 'mutability', mutability, 'updated', updated))
FROM station_configuration
GROUP BY charge_station_id;

DROP TABLE station_configuration;
