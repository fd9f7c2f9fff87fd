-- What the configuration files say (postgresql.conf, includes, postgresql.auto.conf), in order:
-- values written but not yet in effect, values set outside the spec, and syntax errors.
SELECT sourcefile, sourceline, seqno, name, setting, applied, error
FROM pg_catalog.pg_file_settings
ORDER BY seqno
