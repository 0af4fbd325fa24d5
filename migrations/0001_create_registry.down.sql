DROP TABLE templates;
DROP TABLE locations;
DROP TABLE api_keys;
DROP TABLE networks;
