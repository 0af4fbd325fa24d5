DELETE FROM list_counts WHERE kind = 'tariffs';
DROP TABLE tariffs;
