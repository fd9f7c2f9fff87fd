"""Index candidates from a statement's shape: pure functions.

For each table a statement reads, btree keys are built in the order that serves it: equality
columns first (the most selective first), then one range column, or the ORDER BY / GROUP BY
columns; a range column can also lead with the GROUP BY columns after it. Single columns are
candidates too (another statement's index may be the one to extend). A covering variant adds
the other columns the statement reads as INCLUDE (narrow ones only), for an index-only scan.
``LIKE 'prefix%'`` on a column whose collation is not C needs ``text_pattern_ops``; a search
anywhere in the text (or case-insensitive) a trigram GIN index; ``@>`` on jsonb a
``jsonb_path_ops`` GIN index. Each statement also names its *primary* candidate: the one a
heuristic would pick when no planner can weigh them.

>>> from reconciler.commands.advise.shape import analyse
>>> shape = analyse("SELECT status, count(*) FROM orders WHERE created_at >= $1 GROUP BY status",
...                 {"orders": ("public", "orders")})
>>> facts = {("public", "orders", c): ColumnFacts("timestamptz" if c == "created_at" else "text")
...          for c in ("created_at", "status")}
>>> [(c.columns, c.include) for c in candidates_for("q1", shape, facts)]
[(['created_at'], []), (['created_at'], ['status']), (['status'], []), (['created_at', 'status'], [])]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from reconciler.commands.advise.shape import Predicate, Shape, Table

MAX_KEYS = 3
MAX_INCLUDE = 3
NARROW_BYTES = 40


@dataclass(frozen=True)
class ColumnFacts:
    """What the catalog and ANALYZE say about one column."""

    type: str
    distinct: float = 0.0        # estimated number of distinct values
    width: int = 8               # average width in bytes
    c_collation: bool | None = None  # None: not a collatable type


Facts = dict[tuple[str, str, str], ColumnFacts]


@dataclass
class Candidate:
    """A proposed index and the statements it serves."""

    table: Table
    columns: list[Any]            # IndexColumn-shaped: str ("col", "col DESC") or {"column"/"expression", "opclass"}
    using: str = "btree"
    include: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)   # statement keys
    reason: str = ""
    needs_extension: str | None = None
    primary: bool = False
    like_column: str | None = None   # a btree that serves LIKE 'prefix%' on this column
    where: str | None = None         # a partial index: the one constant the statement always asks for

    @property
    def key(self) -> tuple[Any, ...]:
        base = (self.table, self.using, tuple(str(c) for c in self.columns), tuple(self.include))
        return base + (self.where,) if self.where else base

    def key_columns(self) -> list[str | None]:
        """Plain column names of the keys (None for an expression)."""
        out: list[str | None] = []
        for c in self.columns:
            if isinstance(c, str):
                out.append(c.split()[0])
            else:
                out.append(c.get("column"))
        return out

    def label(self) -> str:
        keys = ", ".join(c if isinstance(c, str) else
                         " ".join(v for v in (c.get("column") or c.get("expression"), c.get("opclass")) if v)
                         for c in self.columns)
        include = f" INCLUDE ({', '.join(self.include)})" if self.include else ""
        method = "" if self.using == "btree" else f" USING {self.using}"
        where = f" WHERE {self.where}" if self.where else ""
        return f"{self.table[0]}.{self.table[1]}{method} ({keys}){include}{where}"


def _ordered_eq(table: Table, items: list[Predicate], facts: Facts) -> list[Predicate]:
    seen: dict[tuple[str, bool], Predicate] = {}
    for p in items:
        if p.kind == "eq":
            seen.setdefault((p.column, p.lowered), p)
    return sorted(seen.values(), key=lambda p: -facts[(*table, p.column)].distinct)


def _key(p: Predicate) -> str | dict[str, str]:
    return {"expression": f"lower({p.column})"} if p.lowered else p.column


def _pattern_key(p: Predicate, facts: Facts, table: Table) -> str | dict[str, str]:
    """The key that lets a btree serve LIKE 'prefix%' on ``p``'s column."""
    fact = facts[(*table, p.column)]
    if p.lowered:
        return {"expression": f"lower({p.column})", "opclass": "text_pattern_ops"}
    if fact.c_collation:
        return p.column
    opclass = "varchar_pattern_ops" if fact.type.startswith(("character varying", "varchar")) else "text_pattern_ops"
    return {"column": p.column, "opclass": opclass}


def _is_text(fact: ColumnFacts) -> bool:
    return fact.type.startswith(("text", "character", "varchar", "citext"))


@dataclass
class _Wants:
    """What one statement asks of one table, sorted into the shapes of index that serve it."""

    eq: list[Predicate]
    eq_keys: list[Any]
    ranges: list[str]
    sort_keys: list[str]
    groups: list[str]
    likes: list[Predicate]
    contains: list[Predicate]


def _wants(table: Table, items: list[Predicate], facts: Facts) -> _Wants:
    eq = _ordered_eq(table, items, facts)
    eq_names = {p.column for p in eq if not p.lowered}
    sorts = [p for p in items if p.kind == "sort" and p.column not in eq_names]
    return _Wants(
        eq=eq, eq_keys=[_key(p) for p in eq],
        ranges=list(dict.fromkeys(p.column for p in items if p.kind == "range" and p.column not in eq_names)),
        sort_keys=list(dict.fromkeys(f"{p.column} DESC" if p.descending else p.column for p in sorts)),
        groups=list(dict.fromkeys(p.column for p in items if p.kind == "group" and p.column not in eq_names)),
        likes=[p for p in items if p.kind == "like" and _is_text(facts[(*table, p.column)])],
        contains=[p for p in items if p.kind == "contains" and facts[(*table, p.column)].type.startswith("jsonb")])


def _btree_shapes(w: _Wants, facts: Facts, table: Table) -> tuple[list[tuple[list[Any], str]], dict[str, str]]:
    """The btree key lists that serve ``w`` (each with its reason), and the reasons of the LIKE
    prefix shapes with their column."""
    eq, eq_keys = w.eq, w.eq_keys
    shapes: list[tuple[list[Any], str]] = []
    like_of: dict[str, str] = {}  # the reason of a LIKE-prefix shape -> its column
    for p in eq[:MAX_KEYS]:
        shapes.append(([_key(p)], f"equality on {p.column}"))
    if len(eq) > 1:
        shapes.append((eq_keys[:MAX_KEYS], "equality on " + ", ".join(p.column for p in eq[:MAX_KEYS])))
    for r in w.ranges[:2]:
        shapes.append(((eq_keys + [r])[:MAX_KEYS], _reason(eq, "range", [r])))
    if w.sort_keys:
        shapes.append(((eq_keys + w.sort_keys)[:MAX_KEYS], _reason(eq, "order", w.sort_keys)))
    if w.groups:
        shapes.append(((eq_keys + w.groups)[:MAX_KEYS], _reason(eq, "grouping", w.groups)))
        for r in w.ranges[:1]:
            shapes.append((([*eq_keys, r] + w.groups)[:MAX_KEYS], _reason(eq, "range then grouping", [r, *w.groups])))
    for p in w.likes:
        if not p.insensitive:
            reason = _reason(eq, "LIKE 'prefix%'", [p.column])
            shapes.append(((eq_keys + [_pattern_key(p, facts, table)])[:MAX_KEYS], reason))
            like_of[reason] = p.column
    return shapes, like_of


class _Collected:
    """Candidates of one statement, merged by key as they are found."""

    def __init__(self, statement: str) -> None:
        self.statement = statement
        self.out: dict[tuple[Any, ...], Candidate] = {}

    def add(self, table: Table, columns: list[Any], reason: str, using: str = "btree", include: list[str] | None = None,
            needs: str | None = None, primary: bool = False, like: str | None = None, where: str | None = None) -> None:
        if not columns:
            return
        candidate = Candidate(table, list(columns), using, list(include or []), [self.statement], reason, needs,
                              primary, like, where)
        found = self.out.setdefault(candidate.key, candidate)
        found.primary = found.primary or primary
        found.like_column = found.like_column or like


def candidates_for(statement: str, shape: Shape, facts: Facts,
                   constants: dict[tuple[Table, str], str] | None = None) -> list[Candidate]:
    """Index candidates of one statement (``statement`` is its key). ``constants``: columns the
    statement always compares with one selective constant (pg_qualstats, see :mod:`.qualstats`),
    which make partial candidates."""
    by_table: dict[Table, list[Predicate]] = {}
    for p in shape.predicates:
        if (*p.table, p.column) in facts:
            by_table.setdefault(p.table, []).append(p)
    found = _Collected(statement)
    for table, items in by_table.items():
        w = _wants(table, items, facts)
        shapes, like_of = _btree_shapes(w, facts, table)
        primary = _primary(w.eq_keys, w.ranges, w.sort_keys, w.groups)
        if primary and not any(columns == primary for columns, _ in shapes):
            shapes.append((primary, _reason(w.eq, "keys", primary)))
        filters = {p.column for p in w.eq} | set(w.ranges[:1])
        referenced = shape.referenced.get(table, set())
        for columns, reason in shapes:
            found.add(table, columns, reason, primary=columns == primary, like=like_of.get(reason))
            # a covering variant of keys that serve every filter, for an index-only scan
            names = {key_name(c) for c in columns}
            extra = sorted(referenced - names)
            if filters <= names and 0 < len(extra) <= MAX_INCLUDE and \
                    all((*table, c) in facts and facts[(*table, c)].width <= NARROW_BYTES for c in extra):
                found.add(table, columns, reason + ", covering the columns it reads", include=extra)
        for p in w.eq:
            value = (constants or {}).get((table, p.column))
            if value is not None and not p.lowered:
                rest = _primary([k for k in w.eq_keys if k != p.column], w.ranges, w.sort_keys, w.groups)
                found.add(table, rest or [p.column], f"always {p.column} = one constant: a partial index",
                          where=sql.SQL("{} = {}").format(sql.Identifier(p.column), sql.Literal(value)).as_string(None))
        for p in w.likes:
            key = {"expression": f"lower({p.column})", "opclass": "gin_trgm_ops"} if p.lowered \
                else {"column": p.column, "opclass": "gin_trgm_ops"}
            found.add(table, [key], f"LIKE/ILIKE search anywhere in {p.column}", "gin", needs="pg_trgm",
                      primary=not primary or p.insensitive)
        for p in w.contains:
            found.add(table, [{"column": p.column, "opclass": "jsonb_path_ops"}],
                      f"JSON containment (@>) on {p.column}", "gin", primary=not primary)
    return list(found.out.values())


def key_name(column: Any) -> str:
    """The column (or expression) of one key, without its order."""
    if isinstance(column, str):
        return column.split()[0]
    return str(column.get("column") or column.get("expression", ""))


def _primary(eq_keys: list[Any], ranges: list[str], sort_keys: list[str], groups: list[str]) -> list[Any]:
    """The one index a heuristic would pick: equality, then a range, else the order."""
    columns = list(eq_keys)
    if ranges:
        columns.append(ranges[0])
    elif sort_keys:
        columns += sort_keys[:2]
    elif groups and not columns:
        columns += groups[:2]
    return columns[:MAX_KEYS]


def _reason(eq: list[Predicate], kind: str, rest: list[Any]) -> str:
    parts = []
    if eq:
        parts.append("equality on " + ", ".join(p.column for p in eq))
    parts.append(f"{kind} on " + ", ".join(map(str, rest)))
    return ", then ".join(parts)


def merge(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per index definition, serving every statement that proposed it."""
    merged: dict[tuple[Any, ...], Candidate] = {}
    for candidate in candidates:
        found = merged.get(candidate.key)
        if found is None:
            merged[candidate.key] = Candidate(candidate.table, candidate.columns, candidate.using,
                                              candidate.include, list(candidate.queries), candidate.reason,
                                              candidate.needs_extension, candidate.primary, candidate.like_column,
                                              candidate.where)
        else:
            found.queries.extend(q for q in candidate.queries if q not in found.queries)
            found.primary = found.primary or candidate.primary
    return list(merged.values())
