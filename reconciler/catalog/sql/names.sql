-- Names of the operator classes and collations the indexes use (a handful, whatever the size).
-- An operator class is named without its schema when the search_path finds it (visible).
SELECT 'opclass' AS kind, opc.oid, opc.opcname::text AS name, nsp.nspname::text AS schema,
       opc.opcdefault AS is_default, pg_catalog.pg_opclass_is_visible(opc.oid) AS visible
FROM pg_catalog.pg_opclass opc
JOIN pg_catalog.pg_namespace nsp ON nsp.oid = opc.opcnamespace
WHERE opc.oid = ANY(%(opclasses)s::oid[])
UNION ALL
SELECT 'collation', coll.oid, coll.collname::text, nsp.nspname::text, false, true
FROM pg_catalog.pg_collation coll
JOIN pg_catalog.pg_namespace nsp ON nsp.oid = coll.collnamespace
WHERE coll.oid = ANY(%(collations)s::oid[])
