-- The relations the spec names (by schema and name, verbatim) and every partition below them,
-- with their columns. Tables, partitioned tables and materialized views are read in full; a named
-- relation of another kind (a view, a sequence) comes back with its kind only, so that the
-- message can say what it is. Cost grows with the spec, not with the database.
WITH RECURSIVE named AS (
    SELECT c.oid, c.relkind
    FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS t(schema_name, table_name)
    JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name
), tree(oid) AS (
    SELECT oid FROM named WHERE relkind IN ('r', 'p', 'm')
    UNION
    SELECT inh.inhrelid
    FROM tree
    JOIN pg_catalog.pg_inherits inh ON inh.inhparent = tree.oid
    JOIN pg_catalog.pg_class c ON c.oid = inh.inhrelid AND c.relispartition
)
SELECT c.oid,
       n.nspname::text AS schema,
       c.relname::text AS name,
       c.relkind::text AS kind,
       (SELECT inh.inhparent FROM pg_catalog.pg_inherits inh
         WHERE inh.inhrelid = c.oid AND c.relispartition) AS parent_oid,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       COALESCE((SELECT inh.inhdetachpending FROM pg_catalog.pg_inherits inh
                  WHERE inh.inhrelid = c.oid AND c.relispartition), false) AS detach_pending,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partition_key,
       -- the partition key's columns by name (NULL for an expression), for unique indexes
       (SELECT array_agg(a.attname::text ORDER BY k.ord)
          FROM pg_catalog.pg_partitioned_table pt
          CROSS JOIN LATERAL unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
          LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = k.attnum
         WHERE pt.partrelid = c.oid) AS partition_columns,
       c.reloptions AS storage,
       c.reltoastrelid <> 0 AS has_toast,
       (SELECT t.reloptions FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid) AS toast_storage,
       cols.attnums,
       cols.names,
       cols.types,
       cols.collation_oids,
       cols.collations,
       cols.not_null,
       cols.stat_targets
FROM tree
JOIN pg_catalog.pg_class c ON c.oid = tree.oid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
    SELECT array_agg(a.attnum ORDER BY a.attnum) AS attnums,
           array_agg(a.attname::text ORDER BY a.attnum) AS names,
           array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS types,
           array_agg(a.attcollation ORDER BY a.attnum) AS collation_oids,
           array_agg(coll.collname::text ORDER BY a.attnum) AS collations,
           array_agg(a.attnotnull ORDER BY a.attnum) AS not_null,
           -- per-column statistics target; NULL for the default (-1 before PostgreSQL 17)
           array_agg(NULLIF(a.attstattarget::int, -1) ORDER BY a.attnum) AS stat_targets
    FROM pg_catalog.pg_attribute a
    LEFT JOIN pg_catalog.pg_collation coll ON coll.oid = a.attcollation
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
) AS cols
UNION ALL
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, NULL, NULL, false, NULL, NULL, NULL, false,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM named
JOIN pg_catalog.pg_class c ON c.oid = named.oid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE named.relkind NOT IN ('r', 'p', 'm')
ORDER BY 1
