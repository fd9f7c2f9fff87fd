-- Settings kept per role and per database (pg_db_role_setting, one catalog for the whole server):
-- those that apply in this database — every role's own (setdatabase 0), this database's, each
-- role's in this database — and those of the databases the spec names; and which of the roles and
-- databases the spec names exist.
SELECT 'setting' AS kind, coalesce(r.rolname::text, '') AS role, coalesce(d.datname::text, '') AS database,
       s.setconfig AS config,
       s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
           AS here
FROM pg_catalog.pg_db_role_setting s
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
WHERE s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
   OR d.datname = ANY(%(databases)s::text[])
UNION ALL
SELECT 'role', r.rolname::text, '', NULL, NULL
FROM pg_catalog.pg_roles r WHERE r.rolname = ANY(%(roles)s::text[])
UNION ALL
SELECT 'database', '', d.datname::text, NULL, NULL
FROM pg_catalog.pg_database d WHERE d.datname = ANY(%(databases)s::text[])
ORDER BY 1, 2, 3
