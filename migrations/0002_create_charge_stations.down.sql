DROP TRIGGER locations_network_moves_stations ON locations;
DROP FUNCTION charge_stations_follow_location();
DROP FUNCTION charge_station_status(text[]);
DROP TABLE evses;
DROP TABLE charge_stations;
