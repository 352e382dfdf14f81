--
-- comments: every function, procedure and view of the extension says in one
-- line what it does (psql's \df+ and \dv+ show it), including those added
-- later.
--
CREATE EXTENSION kafka_fdw;
SELECT count(*) >= 20 AS many_functions FROM pg_proc WHERE pronamespace = 'kafka'::regnamespace;
-- none without a comment
SELECT p.oid::regprocedure::text AS without_comment
  FROM pg_proc p
 WHERE p.pronamespace = 'kafka'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT c.oid::regclass::text
  FROM pg_class c
 WHERE c.relnamespace = 'kafka'::regnamespace AND c.relkind IN ('v', 'm')
   AND obj_description(c.oid, 'pg_class') IS NULL
ORDER BY 1;
-- each one line
SELECT d.objoid, d.description
  FROM pg_description d
  JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid
 WHERE p.pronamespace = 'kafka'::regnamespace AND d.description ~ E'\n';
DROP EXTENSION kafka_fdw;
