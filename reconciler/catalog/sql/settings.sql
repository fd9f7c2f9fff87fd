-- Live values of the settings the spec declares, with what the server knows about each.
SELECT name, setting, unit, vartype, min_val, max_val, enumvals, context, boot_val, pending_restart
FROM pg_catalog.pg_settings
WHERE lower(name) = ANY(%(names)s::text[])
