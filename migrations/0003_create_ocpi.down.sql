DROP FUNCTION IF EXISTS ocpi_enqueue(text, text, text);
DROP TABLE IF EXISTS ocpi_deliveries;
DROP TABLE IF EXISTS ocpi_published_evses;
DROP TABLE IF EXISTS ocpi_partners;
