-- Per column of the user tables: what ANALYZE found (distinct values, most common values and their
-- frequencies, histogram bounds, width) and whether its collation sorts bytewise ("C"), which is
-- what lets a plain btree serve a LIKE prefix search.
SELECT n.nspname::text AS schema, c.relname::text AS table, a.attname::text AS column,
       s.n_distinct, s.null_frac, s.avg_width, s.correlation,
       s.most_common_vals::text::text[] AS mcv, s.most_common_freqs AS mcf,
       s.histogram_bounds::text::text[] AS histogram,
       CASE
         WHEN a.attcollation = 0 THEN NULL
         WHEN a.attcollation = 100 THEN (SELECT d.datcollate IN ('C', 'POSIX') OR d.datlocprovider::text = 'b'
                                         FROM pg_catalog.pg_database d WHERE d.datname = current_database())
         ELSE COALESCE(co.collcollate IN ('C', 'POSIX'), false) OR co.collprovider::text = 'b'
       END AS c_collation
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN LATERAL (  -- a partitioned table's statistics are those over its partitions
    SELECT * FROM pg_catalog.pg_stats s
    WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
    ORDER BY s.inherited = (c.relkind = 'p') DESC LIMIT 1
) s ON true
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND (n.nspname, c.relname) IN (SELECT * FROM unnest(%(schemas)s::text[], %(tables)s::text[]))
