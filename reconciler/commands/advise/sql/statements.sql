-- Statements of this database by total time (pg_stat_statements, named in the schema its extension
-- lives in), with their share of the total.
SELECT s.queryid, s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows,
       s.total_exec_time / NULLIF(sum(s.total_exec_time) OVER (), 0) AS share
FROM {schema}.pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND s.toplevel
ORDER BY s.total_exec_time DESC
LIMIT 500
