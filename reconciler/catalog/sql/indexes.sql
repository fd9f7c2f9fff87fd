-- Every index on the given tables (oids), with its definition in structured form.
-- pg_get_indexdef is called only for expression keys: it dominates the cost of this query.
WITH cons AS (
    SELECT con.conindid, array_agg(con.conname::text ORDER BY con.conname) AS names
    FROM pg_catalog.pg_constraint con
    WHERE con.conindid <> 0
      AND (con.conrelid = ANY(%(tables)s::oid[]) OR con.confrelid = ANY(%(tables)s::oid[]))
    GROUP BY con.conindid
)
SELECT i.indexrelid AS oid,
       n.nspname AS schema,
       ic.relname AS name,
       i.indrelid AS table_oid,
       am.amname AS method,
       i.indisunique AS is_unique,
       i.indnullsnotdistinct AS nulls_not_distinct,
       i.indisvalid AS valid,
       i.indisready AS ready,
       ic.relkind = 'I' AS partitioned,
       i.indnkeyatts AS key_count,
       keys.columns AS key_columns,
       keys.expressions AS key_expressions,
       keys.opclasses AS key_opclasses,
       keys.collations AS key_collations,
       keys.options AS key_options,
       CASE WHEN i.indpred IS NOT NULL THEN pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) END AS predicate,
       ic.reloptions AS storage,
       (SELECT inh.inhparent FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = i.indexrelid) AS parent_oid,
       cons.names AS constraints
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
LEFT JOIN cons ON cons.conindid = i.indexrelid
CROSS JOIN LATERAL (
    SELECT array_agg(a.attname::text ORDER BY k.n) AS columns,
           array_agg(CASE WHEN k.attnum = 0 THEN pg_catalog.pg_get_indexdef(i.indexrelid, k.n::int, true) END
                     ORDER BY k.n) AS expressions,
           -- NULL for the default operator class of the key's type
           array_agg(CASE WHEN NOT opc.opcdefault THEN
                         CASE WHEN opcn.nspname = 'pg_catalog' THEN opc.opcname::text
                              ELSE opcn.nspname || '.' || opc.opcname END END ORDER BY k.n) AS opclasses,
           -- NULL when a column key uses the column's own collation
           array_agg(CASE WHEN coll.oid IS NOT NULL
                           AND NOT (k.attnum > 0 AND coll.oid = a.attcollation) THEN coll.collname::text END
                     ORDER BY k.n) AS collations,
           array_agg(i.indoption[k.n - 1] ORDER BY k.n) AS options
    FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
    LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
    LEFT JOIN pg_catalog.pg_opclass opc ON k.n <= i.indnkeyatts AND opc.oid = i.indclass[k.n - 1]
    LEFT JOIN pg_catalog.pg_namespace opcn ON opcn.oid = opc.opcnamespace
    LEFT JOIN pg_catalog.pg_collation coll ON k.n <= i.indnkeyatts AND coll.oid = i.indcollation[k.n - 1]
) AS keys
WHERE i.indrelid = ANY(%(tables)s::oid[])
