DROP TRIGGER charge_stations_notify_deleted ON charge_stations;
DROP TRIGGER charge_stations_notify_updated ON charge_stations;
DROP FUNCTION charge_stations_notify_changed();
