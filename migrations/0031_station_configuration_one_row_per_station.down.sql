CREATE TABLE station_configuration (
    charge_station_id text NOT NULL REFERENCES charge_stations (id) ON DELETE CASCADE,
    key               text NOT NULL,
    value             text,
    readonly          boolean NOT NULL DEFAULT false,
    unknown           boolean NOT NULL DEFAULT false,
    component         text,
    variable          text,
    mutability        text,
    updated           timestamptz NOT NULL,
    PRIMARY KEY (charge_station_id, key)
);

INSERT INTO station_configuration (charge_station_id, key, value, readonly, unknown, component, variable,
    mutability, updated)
SELECT c.charge_station_id, k.key, k.entry->>'value', (k.entry->>'readonly')::boolean, (k.entry->>'unknown')::boolean,
    k.entry->>'component', k.entry->>'variable', k.entry->>'mutability', (k.entry->>'updated')::timestamptz
FROM station_configurations c, jsonb_each(c.keys) AS k(key, entry);

DROP TABLE station_configurations;
