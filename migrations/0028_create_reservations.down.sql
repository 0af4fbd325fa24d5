DROP TRIGGER transactions_use_reservations_update ON transactions;
DROP TRIGGER transactions_use_reservations_insert ON transactions;
DROP FUNCTION transactions_use_reservations();
DROP TRIGGER evses_keep_reserved ON evses;
DROP FUNCTION evses_keep_reserved();
DROP TABLE reservations;
