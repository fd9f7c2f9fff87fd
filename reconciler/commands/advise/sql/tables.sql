-- User tables with their activity, size, vacuum state and a bloat estimate (from pg_stats widths).
SELECT t.relid AS oid, t.schemaname::text AS schema, t.relname::text AS name,
       t.seq_scan, t.seq_tup_read, COALESCE(t.idx_scan, 0) AS idx_scan,
       t.n_live_tup, t.n_dead_tup, t.n_mod_since_analyze, t.n_tup_upd, t.n_tup_hot_upd,
       t.last_vacuum, t.last_autovacuum, t.last_analyze, t.last_autoanalyze,
       c.relkind::text AS kind, c.relpages, c.reltuples, pg_catalog.pg_table_size(c.oid) AS size_bytes,
       pg_catalog.age(c.relfrozenxid) AS xid_age,
       w.width AS tuple_width,
       CASE WHEN c.relpages >= 10 AND c.reltuples > 0 AND w.width IS NOT NULL THEN
         greatest(0, 1 - ceil(c.reltuples * (w.width + 24 + 4)
                              / ((current_setting('block_size')::int - 24)
                                 * COALESCE((SELECT option_value::int FROM pg_catalog.pg_options_to_table(c.reloptions)
                                             WHERE option_name = 'fillfactor'), 100) / 100.0))
                          / c.relpages)
       END AS bloat_ratio,
       io.heap_blks_hit::float8 / NULLIF(io.heap_blks_hit + io.heap_blks_read, 0) AS heap_hit_rate,
       io.idx_blks_hit::float8 / NULLIF(io.idx_blks_hit + io.idx_blks_read, 0) AS idx_hit_rate
FROM pg_catalog.pg_stat_user_tables t
JOIN pg_catalog.pg_class c ON c.oid = t.relid
LEFT JOIN pg_catalog.pg_statio_user_tables io ON io.relid = t.relid
LEFT JOIN LATERAL (
    SELECT sum(s.avg_width)::int AS width FROM pg_catalog.pg_stats s
    WHERE s.schemaname = t.schemaname AND s.tablename = t.relname
) w ON true
ORDER BY t.schemaname, t.relname
