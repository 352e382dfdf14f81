-- kafka_fdw: Delta Lake export.

-- Writes the rows of a table, view or SELECT query as one commit of the Delta
-- table at path: Parquet data files plus a _delta_log entry, published
-- atomically.  Needs superuser or pg_write_server_files (checked inside, like
-- COPY TO a file).  Returns the table version now, and the files, rows and
-- bytes written (all zero when nothing was exported).  When source names the
-- target of a streaming table, an append exports only the rows not exported
-- yet (the Delta txn version is the stream's batch_id).
CREATE FUNCTION kafka.delta_export(
    source text,
    path text,
    mode text DEFAULT 'append',
    compression text DEFAULT 'zstd',
    target_file_size bigint DEFAULT 134217728,
    app_id text DEFAULT NULL,
    txn_version bigint DEFAULT NULL,
    timestamp_ntz boolean DEFAULT NULL,
    numeric_as text DEFAULT 'decimal',
    compression_level integer DEFAULT NULL,
    row_group_size bigint DEFAULT NULL,
    page_size integer DEFAULT NULL,
    OUT version bigint,
    OUT files integer,
    OUT rows bigint,
    OUT bytes bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'kafka_delta_export'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION kafka.delta_export(text, text, text, text, bigint, text, bigint, boolean, text, integer, bigint, integer)
    IS 'export a table or query to a Delta Lake table (Parquet files and an atomic _delta_log commit); a streaming table appends only its rows not exported yet';
