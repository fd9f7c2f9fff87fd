-- Database-wide figures: cache and index hit rates, statistics window, transaction-ID age.
SELECT d.blks_hit, d.blks_read,
       CASE WHEN d.blks_hit + d.blks_read > 0 THEN d.blks_hit::float8 / (d.blks_hit + d.blks_read) END AS cache_hit_rate,
       (SELECT CASE WHEN sum(idx_blks_hit + idx_blks_read) > 0
                    THEN sum(idx_blks_hit)::float8 / sum(idx_blks_hit + idx_blks_read) END
          FROM pg_catalog.pg_statio_user_indexes) AS index_hit_rate,
       d.stats_reset, pg_catalog.pg_postmaster_start_time() AS started, now() AS now,
       (SELECT pg_catalog.age(datfrozenxid) FROM pg_catalog.pg_database WHERE datname = current_database()) AS xid_age,
       d.xact_commit, d.xact_rollback, d.deadlocks, d.temp_files, d.temp_bytes
FROM pg_catalog.pg_stat_database d
WHERE d.datname = current_database()
