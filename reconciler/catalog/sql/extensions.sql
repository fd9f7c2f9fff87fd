-- Installed extensions, and every declared extension whether installed or available or neither.
SELECT n.name,
       e.extversion AS installed_version,
       a.default_version,
       ns.nspname AS schema,
       a.name IS NOT NULL AS available
FROM (SELECT extname AS name FROM pg_catalog.pg_extension
      UNION
      SELECT unnest(%(names)s::text[])) AS n
LEFT JOIN pg_catalog.pg_extension e ON e.extname = n.name
LEFT JOIN pg_catalog.pg_namespace ns ON ns.oid = e.extnamespace
LEFT JOIN pg_catalog.pg_available_extensions a ON a.name = n.name
ORDER BY n.name
