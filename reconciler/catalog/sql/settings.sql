-- Live values of the settings the spec declares, with what the server knows about each. pgrecon's
-- own session sets some (statement_timeout, search_path, …): for those, the value the session began
-- with, as the server's configuration, the role and the database gave it.
SELECT name, CASE WHEN source = 'session' THEN reset_val ELSE setting END AS setting, unit, vartype, min_val, max_val, enumvals, context, boot_val, pending_restart
FROM pg_catalog.pg_settings
WHERE lower(name) = ANY(%(names)s::text[])
