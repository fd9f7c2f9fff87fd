-- Index usage and size, and a bloat estimate for btree indexes (key widths from pg_stats).
SELECT i.indexrelid AS oid, COALESCE(s.idx_scan, 0) AS idx_scan,
       (to_jsonb(s) ->> 'last_idx_scan')::timestamptz AS last_idx_scan,
       pg_catalog.pg_relation_size(i.indexrelid) AS size_bytes, ic.relpages, ic.reltuples,
       am.amname::text AS method,
       CASE WHEN am.amname = 'btree' AND ic.relpages >= 10 AND ic.reltuples > 0 AND kw.width IS NOT NULL THEN
         greatest(0, 1 - ceil(ic.reltuples * (kw.width + 8 + 4)
                              / ((current_setting('block_size')::int - 24 - 16) * 0.9)) / ic.relpages)
       END AS bloat_ratio
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_catalog.pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
LEFT JOIN LATERAL (
    SELECT sum(st.avg_width)::int AS width
    FROM unnest(i.indkey::int2[]) AS k(attnum)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    JOIN pg_catalog.pg_stats st ON st.schemaname = n.nspname AND st.tablename = t.relname AND st.attname = a.attname
    HAVING count(*) = count(k.attnum) AND bool_and(k.attnum > 0)
) kw ON true
WHERE i.indrelid = ANY(%(tables)s::oid[])
