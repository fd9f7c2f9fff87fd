-- Sessions of this database by state.
SELECT COALESCE(state, 'unknown') AS state, count(*) AS sessions
FROM pg_catalog.pg_stat_activity
WHERE datname = current_database()
GROUP BY 1 ORDER BY 2 DESC
