-- What `pgrecon grants` needs to know: the owners of the tables the spec names (and of their
-- partitions' parents) with, in `installed`, whether that owner is a superuser; and for each declared extension whether it is installed and trusted (a
-- trusted extension may be created by a non-superuser with CREATE on the database).
SELECT 'table' AS kind, n.nspname || '.' || c.relname AS name, pg_catalog.pg_get_userbyid(c.relowner)::text AS owner,
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = c.relowner) AS installed, NULL::bool AS trusted
FROM ROWS FROM (pg_catalog.unnest(%(schemas)s::text[]), pg_catalog.unnest(%(names)s::text[])) AS t(schema_name, table_name)
JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name
UNION ALL
SELECT 'extension', x.name, NULL,
       EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname = x.name),
       coalesce((SELECT bool_or(v.trusted) FROM pg_catalog.pg_available_extension_versions v WHERE v.name = x.name),
                false)
FROM pg_catalog.unnest(%(extensions)s::text[]) AS x(name)
ORDER BY 1, 2
