-- The functions as 0030 made them (planned for each statement).

CREATE OR REPLACE FUNCTION ocpi_charge_stations_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_status text[];
    v_full   text[];
BEGIN
    EXECUTE $q$
    SELECT array_agg(c.id) FILTER (WHERE c.other),
        array_agg(c.id) FILTER (WHERE NOT c.other AND c.connectivity_changed)
    FROM (
        SELECT n.id, n.connectivity_status IS DISTINCT FROM o.connectivity_status AS connectivity_changed,
            (n.deploy_state, n.location_id, n.capabilities, n.default_charge_station_tariff_id,
                n.default_charge_station_floor_level, n.default_charge_station_directions)
            IS DISTINCT FROM (o.deploy_state, o.location_id, o.capabilities, o.default_charge_station_tariff_id,
                o.default_charge_station_floor_level, o.default_charge_station_directions) AS other
        FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        WHERE n.deploy_state = 'Production' OR o.deploy_state = 'Production'
    ) c$q$
    INTO v_full, v_status;
    PERFORM ocpi_note('station', v_full);
    PERFORM ocpi_note('station_status', v_status);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ocpi_evses_updated() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off SET enable_mergejoin = off SET enable_material = off SET jit = off AS $$
DECLARE
    v_status text[];
    v_full   text[];
BEGIN
    EXECUTE $q$
    SELECT array_agg(c.uid) FILTER (WHERE c.other),
        array_agg(c.uid) FILTER (WHERE NOT c.other AND c.status_changed)
    FROM (
        SELECT n.uid, n.charge_station_id <> o.charge_station_id AS moved, n.status <> o.status AS status_changed,
            (n.charge_station_id, n.evse_sequence_number, n.evse_id, n.status_schedule, n.capabilities, n.connectors,
                n.floor_level, n.coordinates, n.physical_reference, n.directions, n.parking_restrictions)
            IS DISTINCT FROM (o.charge_station_id, o.evse_sequence_number, o.evse_id, o.status_schedule, o.capabilities,
                o.connectors, o.floor_level, o.coordinates, o.physical_reference, o.directions, o.parking_restrictions) AS other,
            n.charge_station_id
        FROM new_rows n
        JOIN old_rows o ON o.uid = n.uid
    ) c
    WHERE (c.other OR c.status_changed)
        AND (c.moved OR EXISTS (SELECT 1 FROM charge_stations cs WHERE cs.id = c.charge_station_id AND cs.deploy_state = 'Production'))$q$
    INTO v_full, v_status;
    PERFORM ocpi_note('evse', v_full);
    PERFORM ocpi_note('evse_status', v_status);
    RETURN NULL;
END
$$;
