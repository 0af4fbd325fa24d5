DROP TABLE station_certificates;
