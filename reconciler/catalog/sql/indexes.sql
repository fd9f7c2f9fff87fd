-- Every index on the given tables (oids), in raw form: key attribute numbers, operator class
-- and collation oids, options. Names of operator classes and collations are read by names.sql;
-- column names come from tables.sql. pg_get_indexdef is called only for expression indexes:
-- it dominates the cost of reading indexes.
WITH target(oid) AS (
    SELECT unnest(%(tables)s::oid[])
), cons AS (
    SELECT con.conindid, array_agg(con.conname::text ORDER BY con.conname) AS names
    FROM pg_catalog.pg_constraint con
    WHERE con.conindid <> 0
      AND (con.conrelid IN (SELECT oid FROM target) OR con.confrelid IN (SELECT oid FROM target))
    GROUP BY con.conindid
)
SELECT i.indexrelid AS oid,
       n.nspname::text AS schema,
       ic.relname::text AS name,
       i.indrelid AS table_oid,
       am.amname::text AS method,
       i.indisunique AS is_unique,
       i.indnullsnotdistinct AS nulls_not_distinct,
       i.indisvalid AS valid,
       i.indisready AS ready,
       ic.relkind = 'I' AS partitioned,
       i.indnkeyatts AS key_count,
       i.indkey::int2[] AS attnums,
       i.indclass::oid[] AS opclasses,
       i.indcollation::oid[] AS collations,
       i.indoption::int2[] AS options,
       CASE WHEN i.indexprs IS NOT NULL THEN
           ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, true)
                 FROM generate_series(1, i.indnatts) AS k ORDER BY k)
       END AS key_texts,
       -- operator class parameters (siglen=32) of each key; btree and hash take none
       CASE WHEN am.amname NOT IN ('btree', 'hash') THEN
           ARRAY(SELECT COALESCE(pg_catalog.array_to_string(a.attoptions, ','), '')
                 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attnum <= i.indnkeyatts
                 ORDER BY a.attnum)
       END AS opclass_params,
       CASE WHEN i.indpred IS NOT NULL THEN pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) END AS predicate,
       ic.reloptions AS storage,
       (SELECT inh.inhparent FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = i.indexrelid) AS parent_oid,
       cons.names AS constraints
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
LEFT JOIN cons ON cons.conindid = i.indexrelid
WHERE i.indrelid = ANY(%(tables)s::oid[])
ORDER BY i.indexrelid
