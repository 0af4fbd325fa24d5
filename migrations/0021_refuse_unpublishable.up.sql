-- Everything evroam publishes over OCPI passes the official OCPI 2.2.1 schemas: the REST API
-- refuses what would not (EVSE uid over 36 characters, latitude over 10 and longitude over 11
-- characters, opening times OCPI cannot express, an evse_id another EVSE has). This migration
-- brings the rows stored before in line, deterministically, and adds the constraints that
-- keep them so. Each fix is an ordinary change: the OCPI triggers publish it and queue its
-- pushes at commit, and it moves the row's last_updated (and a location's etag).
--
-- 1. An EVSE uid longer than 36 characters becomes the uid evroam generates now
--    (evse.GeneratedUID: "<station>-<n>" when that fits, else the station id's first
--    characters, "~", 10 hex digits of the SHA-256 of the station id and "-<n>"), or, when
--    another EVSE or a published copy has that uid already, the old uid's first 27
--    characters, "~" and 8 hex digits of its MD5. Published copies, retired ones included,
--    and queued pushes are renamed along; a live copy is published again whole, so partners
--    get a PUT of the location with the new uid.
-- 2. A latitude longer than 10 or a longitude longer than 11 characters (a negative value
--    with 2 or 3 integer digits and 7 decimals) is rounded to 6 decimals: locations and
--    EVSE coordinates.
-- 3. Opening times: a period ending at 24:00 ends at 23:59; a period that does not end
--    after it begins (or begins at 24:00) is dropped; opening times that are not
--    twentyfourseven and have no period left are removed (opening_times null: not given).
-- 4. An evse_id held by several EVSEs (compared without case and '*' separators) stays with
--    the EVSE of the station created first (then the lowest station id and sequence number);
--    the others lose it (null).

-- 1. EVSE uids.
CREATE TEMP TABLE evse_uid_fix ON COMMIT DROP AS
SELECT e.uid AS old_uid, e.charge_station_id AS station,
    CASE WHEN length(e.charge_station_id || '-' || e.evse_sequence_number) <= 36
        THEN e.charge_station_id || '-' || e.evse_sequence_number
        ELSE left(e.charge_station_id, 36 - length('~0123456789-' || e.evse_sequence_number))
            || '~' || left(encode(sha256(convert_to(e.charge_station_id, 'UTF8')), 'hex'), 10)
            || '-' || e.evse_sequence_number
    END AS new_uid
FROM evses e
WHERE length(e.uid) > 36;

UPDATE evse_uid_fix f SET new_uid = left(f.old_uid, 27) || '~' || left(md5(f.old_uid), 8)
WHERE EXISTS (SELECT 1 FROM evses e WHERE e.uid = f.new_uid)
    OR EXISTS (SELECT 1 FROM ocpi_evses p WHERE p.evse_uid = f.new_uid);

-- EVSEs deleted long ago that copies still show (REMOVED) with a long uid.
INSERT INTO evse_uid_fix (old_uid, station, new_uid)
SELECT DISTINCT p.evse_uid, NULL::text, left(p.evse_uid, 27) || '~' || left(md5(p.evse_uid), 8)
FROM ocpi_evses p
WHERE length(p.evse_uid) > 36 AND NOT EXISTS (SELECT 1 FROM evse_uid_fix f WHERE f.old_uid = p.evse_uid);

-- A live copy keeps the old uid inside its document: the publication at commit then finds it
-- different from the EVSE and publishes it again whole (a PUT to partners). A retired copy is
-- not published again, so its document is renamed here.
UPDATE ocpi_evses p
SET evse_uid = f.new_uid,
    doc = CASE WHEN p.live THEN p.doc ELSE jsonb_set(p.doc, '{uid}', to_jsonb(f.new_uid)) END
FROM evse_uid_fix f
WHERE p.evse_uid = f.old_uid;

UPDATE ocpi_deliveries d SET evse_uid = f.new_uid
FROM evse_uid_fix f
WHERE d.evse_uid = f.old_uid;

UPDATE evses e SET uid = f.new_uid, last_updated = now()
FROM evse_uid_fix f
WHERE e.uid = f.old_uid;

-- The OCPI triggers match an update's old and new rows by uid, so they cannot see a rename:
-- the renamed EVSEs are noted for the publication here.
SELECT ocpi_note('evse', (SELECT array_agg(f.new_uid) FROM evse_uid_fix f WHERE f.station IS NOT NULL));

-- 2. Coordinates.
UPDATE locations
SET latitude = CASE WHEN length(latitude) > 10 THEN round(latitude::numeric, 6)::text ELSE latitude END,
    longitude = CASE WHEN length(longitude) > 11 THEN round(longitude::numeric, 6)::text ELSE longitude END,
    etag = gen_random_uuid(), last_updated = now()
WHERE length(latitude) > 10 OR length(longitude) > 11;

UPDATE evses
SET coordinates = jsonb_build_object(
        'latitude', CASE WHEN length(coordinates->>'latitude') > 10
            THEN round((coordinates->>'latitude')::numeric, 6)::text ELSE coordinates->>'latitude' END,
        'longitude', CASE WHEN length(coordinates->>'longitude') > 11
            THEN round((coordinates->>'longitude')::numeric, 6)::text ELSE coordinates->>'longitude' END),
    last_updated = now()
WHERE coordinates IS NOT NULL
    AND (length(coordinates->>'latitude') > 10 OR length(coordinates->>'longitude') > 11);

-- 3. Opening times.
WITH fixed AS (
    SELECT l.id, l.opening_times AS ot,
        coalesce((l.opening_times->>'twentyfourseven')::boolean, false) AS always,
        coalesce(l.opening_times->'regular_hours', '[]'::jsonb) AS before,
        (SELECT coalesce(jsonb_agg(y.r ORDER BY y.ord), '[]'::jsonb)
         FROM (SELECT CASE WHEN x.h->>'period_end' = '24:00' THEN jsonb_set(x.h, '{period_end}', '"23:59"') ELSE x.h END AS r,
                   x.ord
               FROM jsonb_array_elements(coalesce(l.opening_times->'regular_hours', '[]'::jsonb)) WITH ORDINALITY AS x(h, ord)) y
         WHERE y.r->>'period_begin' < y.r->>'period_end' AND y.r->>'period_begin' <> '24:00') AS after
    FROM locations l
    WHERE l.opening_times IS NOT NULL AND jsonb_typeof(l.opening_times) = 'object'
)
UPDATE locations l
SET opening_times = CASE
        WHEN NOT f.always AND jsonb_array_length(f.after) = 0 THEN NULL
        WHEN jsonb_array_length(f.after) = 0 THEN f.ot - 'regular_hours'
        ELSE jsonb_set(f.ot, '{regular_hours}', f.after)
    END,
    etag = gen_random_uuid(), last_updated = now()
FROM fixed f
WHERE l.id = f.id AND (f.after <> f.before OR (NOT f.always AND jsonb_array_length(f.after) = 0));

-- 4. evse_id held twice.
WITH ranked AS (
    SELECT e.uid, row_number() OVER (PARTITION BY upper(replace(e.evse_id, '*', ''))
                                     ORDER BY cs.created, cs.id, e.evse_sequence_number) AS n
    FROM evses e
    JOIN charge_stations cs ON cs.id = e.charge_station_id
    WHERE e.evse_id IS NOT NULL
)
UPDATE evses e SET evse_id = NULL, last_updated = now()
FROM ranked r
WHERE e.uid = r.uid AND r.n > 1;

-- The guards. evse_id is unique among all EVSEs, compared as schema.EVSEIDKey does; the
-- index decides between concurrent writers. The REST API checks the same first, to name the
-- fields in a 422.
CREATE UNIQUE INDEX evses_evse_id_key ON evses ((upper(replace(evse_id, '*', '')))) WHERE evse_id IS NOT NULL;
ALTER TABLE evses ADD CONSTRAINT evses_uid_length CHECK (length(uid) <= 36);
ALTER TABLE locations ADD CONSTRAINT locations_coordinates_length
    CHECK (length(latitude) <= 10 AND length(longitude) <= 11);
