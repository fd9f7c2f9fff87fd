-- Selectivity of the columns the candidate indexes would use.
SELECT schemaname::text AS schema, tablename::text AS table, attname::text AS column, n_distinct, null_frac
FROM pg_catalog.pg_stats
WHERE (schemaname, tablename) IN (SELECT * FROM unnest(%(schemas)s::text[], %(tables)s::text[]))
