ALTER TABLE ocpp_messages DROP COLUMN operator;
DROP TABLE operator_transactions;
DROP TABLE operator_queue;
DROP TABLE station_operators;
DROP FUNCTION station_operators_notify();
