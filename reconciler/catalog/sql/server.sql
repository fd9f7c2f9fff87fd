-- Who and where we are: one row. index_methods: the access methods CREATE INDEX may name here;
-- in_recovery / read_only: a hot standby, or a session that may not write.
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       current_database() AS database,
       current_user AS "user",
       current_setting('search_path') AS search_path,
       ARRAY(SELECT amname::text FROM pg_catalog.pg_am WHERE amtype = 'i' ORDER BY amname) AS index_methods,
       pg_catalog.pg_is_in_recovery() AS in_recovery,
       current_setting('transaction_read_only')::bool AS read_only
