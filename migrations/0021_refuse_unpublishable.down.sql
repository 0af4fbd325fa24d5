-- The data fixes of the up migration (renamed uids, rounded coordinates, opening times,
-- evse_ids removed) stay: they are valid either way.
ALTER TABLE locations DROP CONSTRAINT locations_coordinates_length;
ALTER TABLE evses DROP CONSTRAINT evses_uid_length;
DROP INDEX evses_evse_id_key;
