-- The archive import stages its rows in TEMP tables of its own connection
-- now (store/archive_import.rs): never written to the database file or its
-- WAL, gone with the connection. The shared staging table is unused.
DROP TABLE archive_import_rows;
