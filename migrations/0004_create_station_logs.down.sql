DROP TABLE data_transfers;
DROP TABLE transactions;
DROP SEQUENCE ocpp16_transaction_ids;
DROP TABLE meter_values;
DROP TABLE station_configuration;
DROP TABLE station_status_log;
DROP TABLE ocpp_messages;
