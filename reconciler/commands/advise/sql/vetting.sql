-- Everything planning one statement from pg_stat_statements could make the server run, and whether
-- pgrecon may let it: the functions, operators and types the statement names (each name resolved
-- to every object it could mean on this search_path), the relations it names — with the views they
-- read and their partitions — and what belongs to those relations and is evaluated while planning
-- (a view's rules, column defaults and generated columns, CHECK constraints, index expressions and
-- predicates, row-level security policies, extended statistics), the functions of those operators,
-- and the functions user-defined types are made of (a range's subtype_diff, a domain's checks).
-- An object is trusted when PostgreSQL made it (oid below FirstNormalObjectId, 16384) or when it
-- belongs to an extension the spec declares.
WITH RECURSIVE
declared AS (
    SELECT oid FROM pg_catalog.pg_extension WHERE extname = ANY(%(extensions)s::text[])
),
search AS (
    SELECT s AS nspname FROM pg_catalog.unnest(pg_catalog.current_schemas(true)) AS s
    WHERE s NOT LIKE 'pg\_temp\_%%'
),
named(catalog, oid) AS (
    SELECT 'pg_proc'::pg_catalog.regclass, p.oid
    FROM ROWS FROM (pg_catalog.unnest(%(function_schemas)s::text[]), pg_catalog.unnest(%(function_names)s::text[])) AS f(nsp, name)
    JOIN pg_catalog.pg_proc p ON p.proname = f.name
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE CASE WHEN f.nsp = '' THEN n.nspname IN (SELECT nspname FROM search) ELSE n.nspname = f.nsp END
    UNION
    SELECT 'pg_operator'::pg_catalog.regclass, o.oid
    FROM ROWS FROM (pg_catalog.unnest(%(operator_schemas)s::text[]), pg_catalog.unnest(%(operator_names)s::text[])) AS f(nsp, name)
    JOIN pg_catalog.pg_operator o ON o.oprname = f.name
    JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
    WHERE CASE WHEN f.nsp = '' THEN n.nspname IN (SELECT nspname FROM search) ELSE n.nspname = f.nsp END
    UNION
    SELECT 'pg_type'::pg_catalog.regclass, t.oid
    FROM ROWS FROM (pg_catalog.unnest(%(type_schemas)s::text[]), pg_catalog.unnest(%(type_names)s::text[])) AS f(nsp, name)
    JOIN pg_catalog.pg_type t ON t.typname = f.name
    JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE CASE WHEN f.nsp = '' THEN n.nspname IN (SELECT nspname FROM search) ELSE n.nspname = f.nsp END
),
rels(oid) AS (
    SELECT c.oid
    FROM ROWS FROM (pg_catalog.unnest(%(relation_schemas)s::text[]), pg_catalog.unnest(%(relation_names)s::text[])) AS r(nsp, name)
    JOIN pg_catalog.pg_class c ON c.relname = r.name
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE CASE WHEN r.nsp = '' THEN n.nspname IN (SELECT nspname FROM search) ELSE n.nspname = r.nsp END
    UNION
    SELECT more.oid FROM rels, LATERAL (
        -- what a view's rules read
        SELECT d.refobjid AS oid
        FROM pg_catalog.pg_rewrite w
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid
                                   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        WHERE w.ev_class = rels.oid AND d.refobjid <> rels.oid
        UNION ALL
        -- partitions and inheritance children
        SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent = rels.oid
    ) AS more
),
owned(catalog, oid) AS (
    SELECT d.classid, d.objid
    FROM rels
    JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = rels.oid
    WHERE d.deptype IN ('a', 'i')
      AND d.classid IN ('pg_catalog.pg_rewrite'::pg_catalog.regclass, 'pg_catalog.pg_attrdef'::pg_catalog.regclass,
                        'pg_catalog.pg_constraint'::pg_catalog.regclass, 'pg_catalog.pg_policy'::pg_catalog.regclass,
                        'pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass)
),
used(catalog, oid) AS (
    SELECT catalog, oid FROM named
    UNION
    SELECT d.refclassid, d.refobjid
    FROM owned o
    JOIN pg_catalog.pg_depend d ON d.classid = o.catalog AND d.objid = o.oid
    WHERE d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass,
                           'pg_catalog.pg_type'::pg_catalog.regclass)
    UNION
    SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, a.atttypid
    FROM rels JOIN pg_catalog.pg_attribute a ON a.attrelid = rels.oid AND a.attnum > 0 AND NOT a.attisdropped
),
types(oid) AS (  -- user types and the types they are made of (array elements, domain and range bases)
    SELECT oid FROM used WHERE catalog = 'pg_catalog.pg_type'::pg_catalog.regclass AND oid >= 16384
    UNION
    SELECT d.refobjid FROM types
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = types.oid
                               AND d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass
    WHERE d.refobjid >= 16384
),
calls(catalog, oid) AS (
    SELECT catalog, oid FROM used
    UNION
    SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, oid FROM types
    UNION  -- what an operator runs: its function and its selectivity estimators
    SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, f.oid
    FROM used u
    JOIN pg_catalog.pg_operator o ON o.oid = u.oid AND u.catalog = 'pg_catalog.pg_operator'::pg_catalog.regclass,
    LATERAL pg_catalog.unnest(ARRAY[o.oprcode::oid, o.oprrest::oid, o.oprjoin::oid]) AS f(oid)
    WHERE f.oid <> 0
    UNION  -- what a user type runs: its functions (input, subtype_diff, …) and its domain checks' functions
    SELECT d.refclassid, d.refobjid
    FROM types
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = types.oid
                               AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
    UNION
    SELECT d.refclassid, d.refobjid
    FROM types
    JOIN pg_catalog.pg_constraint c ON c.contypid = types.oid
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.objid = c.oid
                               AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
)
SELECT CASE c.catalog WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN 'function'
                      WHEN 'pg_catalog.pg_operator'::pg_catalog.regclass THEN 'operator'
                      ELSE 'type' END AS kind,
       CASE c.catalog WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN c.oid::pg_catalog.regprocedure::text
                      WHEN 'pg_catalog.pg_operator'::pg_catalog.regclass THEN c.oid::pg_catalog.regoperator::text
                      ELSE c.oid::pg_catalog.regtype::text END AS name,
       c.oid < 16384 OR EXISTS (
           SELECT 1 FROM pg_catalog.pg_depend e
           WHERE e.classid = c.catalog AND e.objid = c.oid AND e.deptype = 'e'
             AND e.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
             AND e.refobjid IN (SELECT oid FROM declared)) AS trusted,
       coalesce(p.provolatile = 'v', false) AS volatile
FROM calls c
LEFT JOIN pg_catalog.pg_proc p ON c.catalog = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = c.oid
ORDER BY 3, 1, 2
