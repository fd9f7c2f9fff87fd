-- Who and where we are: one row.
SELECT current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       current_database() AS database,
       current_user AS "user",
       current_setting('search_path') AS search_path
