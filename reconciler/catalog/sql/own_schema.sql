-- The pgrecon schema and pgrecon's own relations in it, with everything that would let a role other
-- than its owner steer pgrecon: owners, grants (aclitem text: "grantee=privileges/grantor", an empty
-- grantee is PUBLIC), triggers, rules and row-level security.
SELECT 'schema' AS kind, n.nspname::text AS name, NULL::text AS relkind,
       pg_catalog.pg_get_userbyid(n.nspowner)::text AS owner, coalesce(n.nspacl::text[], '{}') AS acl,
       0::bigint AS triggers, 0::bigint AS rules, false AS row_security, 0::bigint AS policies,
       current_user::text AS connected_as
FROM pg_catalog.pg_namespace n
WHERE n.nspname = 'pgrecon'
UNION ALL
SELECT 'relation', c.relname::text, c.relkind::text,
       pg_catalog.pg_get_userbyid(c.relowner)::text, coalesce(c.relacl::text[], '{}'),
       (SELECT count(*) FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
       (SELECT count(*) FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid),
       c.relrowsecurity,
       (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid),
       current_user::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'pgrecon' AND c.relname = ANY(%(names)s::text[])
ORDER BY 1 DESC, 2
