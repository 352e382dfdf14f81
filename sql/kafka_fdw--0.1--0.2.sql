-- kafka_fdw 0.1 -> 0.2 (ALTER EXTENSION kafka_fdw UPDATE).  Streams keep
-- running across the update: only the rows' new column, the event trigger,
-- kafka.stream_workers() and kafka.stream_progress change.
-- Every name is schema-qualified: the script must not depend on search_path.

\echo Use "ALTER EXTENSION kafka_fdw UPDATE TO '0.2'" to load this file. \quit

-- The creator's search_path, pinned for the transform.  Streams created
-- before keep running with the database's default (NULL).
ALTER TABLE kafka.streaming_tables ADD COLUMN search_path text;

-- Streams whose source goes with DROP SERVER / DROP FOREIGN DATA WRAPPER
-- ... CASCADE, or whose owner's user mapping is dropped, are marked failed.
CREATE OR REPLACE FUNCTION kafka.streaming_objects_dropped()
    RETURNS event_trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    DELETE FROM kafka.dead_letters d USING pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
       AND d.stream OPERATOR(pg_catalog.=) o.objid;
    DELETE FROM kafka.stream_lost_offsets l USING pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
       AND l.stream OPERATOR(pg_catalog.=) o.objid;
    DELETE FROM kafka.streaming_tables s USING pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
       AND s.target OPERATOR(pg_catalog.=) o.objid;
    UPDATE kafka.streaming_tables s
       SET state = 'failed',
           last_error = pg_catalog.format('source foreign table %s was dropped (%s)',
                                          o.object_identity, TG_TAG)
      FROM pg_catalog.pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objsubid = 0
       AND s.source OPERATOR(pg_catalog.=) o.objid;
    -- the mapping is gone from the catalog by now: which owners have none left
    UPDATE kafka.streaming_tables s
       SET state = 'failed',
           last_error = pg_catalog.format('user mapping for %s was dropped', o.object_identity)
      FROM pg_catalog.pg_event_trigger_dropped_objects() o,
           pg_catalog.pg_foreign_table ft, pg_catalog.pg_foreign_server srv
     WHERE o.object_type OPERATOR(pg_catalog.=) 'user mapping'
       AND ft.ftrelid OPERATOR(pg_catalog.=) s.source
       AND srv.oid OPERATOR(pg_catalog.=) ft.ftserver
       AND srv.srvname OPERATOR(pg_catalog.=) o.address_args[1]
       AND s.state OPERATOR(pg_catalog.<>) 'failed'
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_authid a
                        WHERE a.oid OPERATOR(pg_catalog.=) s.owner AND a.rolsuper)
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_user_mapping m
                        WHERE m.umserver OPERATOR(pg_catalog.=) srv.oid
                          AND m.umuser OPERATOR(pg_catalog.=) ANY (ARRAY[s.owner::pg_catalog.oid, 0::pg_catalog.oid]));
END
$$;

DROP EVENT TRIGGER kafka_streaming_objects_dropped;
CREATE EVENT TRIGGER kafka_streaming_objects_dropped ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'DROP FOREIGN TABLE', 'DROP SCHEMA', 'DROP OWNED',
                 'DROP SERVER', 'DROP FOREIGN DATA WRAPPER', 'DROP USER MAPPING')
    EXECUTE FUNCTION kafka.streaming_objects_dropped();

-- Progress and errors only for the stream's owner and its members,
-- superusers and pg_read_all_stats; kafka.streaming_tables.last_error is no
-- longer readable by PUBLIC.
CREATE OR REPLACE FUNCTION kafka.stream_workers(
        OUT stream regclass, OUT pid int, OUT state text,
        OUT rows_per_second double precision, OUT last_error text,
        OUT restarts int)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'kafka_stream_workers_visible'
    LANGUAGE C VOLATILE;

CREATE OR REPLACE VIEW kafka.stream_progress WITH (security_barrier) AS
SELECT s.target AS stream,
       o.topic,
       o."partition",
       CASE WHEN s.state <> 'active' THEN s.state
            ELSE coalesce(w.state,
                          CASE WHEN s.trigger = 'available_now' THEN 'idle'
                               ELSE 'starting' END)
       END AS state,
       s.batch_id AS last_batch_id,
       s.last_batch_at,
       s.last_batch_rows,
       o.records AS last_batch_records,
       coalesce(w.rows_per_second, s.rows_per_second) AS rows_per_second,
       o.next_offset AS committed_offset,
       o.high_watermark,
       greatest(o.high_watermark - o.next_offset, 0) AS lag,
       coalesce(s.last_error, w.last_error) AS last_error,
       w.pid AS worker_pid
  FROM kafka.streaming_tables s
  JOIN kafka.stream_offsets o ON o.stream = s.target
  LEFT JOIN kafka.stream_workers() w ON w.stream = s.target
 WHERE pg_catalog.pg_has_role(s.owner::pg_catalog.oid, 'USAGE')
    OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE');

REVOKE SELECT ON kafka.streaming_tables FROM PUBLIC;
GRANT SELECT (target, source, owner, trigger, trigger_interval, max_offsets_per_trigger,
              on_error, fail_on_data_loss, transform, timezone, datestyle, state, batch_id,
              last_batch_at, last_batch_rows, last_batch_records, rows_per_second,
              created_at, search_path)
    ON kafka.streaming_tables TO PUBLIC;
GRANT SELECT ON kafka.streaming_tables TO pg_read_all_stats;
