"""The advisor's pure layers: merging statements, what a statement asks of each table, index
candidates, representative parameter values, and choosing an index set (the costs come from a
cost table here; the planner supplies them in the integration tests)."""

from __future__ import annotations

import doctest

import pytest

from reconciler.commands.advise import candidates, choose, params, shape, workload
from reconciler.commands.advise.candidates import ColumnFacts, candidates_for
from reconciler.commands.advise.choose import Move, Work
from reconciler.commands.advise.params import parameter_sets
from reconciler.commands.advise.shape import analyse
from reconciler.commands.advise.workload import merge_entries, select_workload

T = {"orders": ("public", "orders"), "customers": ("public", "customers"), "items": ("public", "items")}
ORDERS, CUSTOMERS = ("public", "orders"), ("public", "customers")


@pytest.mark.parametrize("module", [workload, shape, candidates, params, choose])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def entry(queryid, query, calls, total, share=0.1, rows=1):
    return {"queryid": queryid, "query": query, "calls": calls, "total_exec_time": total, "rows": rows,
            "share": share}


def test_entries_of_one_statement_merge_whatever_their_parameter_types():
    rows = [entry(1, "SELECT * FROM orders WHERE id = $1", 10, 5.0, 0.05),
            entry(2, "select *  from orders where id = $1", 30, 15.0, 0.15),   # another text, same tree
            entry(3, "SELECT * FROM orders WHERE customer_id = $1", 5, 50.0, 0.5)]
    merged = merge_entries(rows)
    assert [(s.queryids, s.calls, s.total_ms) for s in merged] == [([3], 5, 50.0), ([1, 2], 40, 20.0)]
    assert merged[1].share == pytest.approx(0.2)


def test_the_workload_is_every_statement_above_the_share_threshold_capped():
    rows = [entry(i, f"SELECT * FROM orders WHERE c{i} = $1", 10, 100.0 - i, (100.0 - i) / 5000) for i in range(40)]
    rows.append(entry(99, "SELECT * FROM orders WHERE rare = $1", 10, 1.0, 0.0002))
    rows.append(entry(98, "SELECT * FROM orders WHERE seldom = $1", 2, 90.0, 0.018))
    statements = merge_entries(rows)
    chosen = select_workload(statements, min_calls=5, min_share_pct=0.5, cap=50)
    assert len(chosen) == 40 and {s.queryid for s in chosen}.isdisjoint({98, 99})  # below min_calls / share
    assert len(select_workload(statements, 5, 0.5, cap=10)) == 10


def kinds(sql: str, columns=None):
    return [(p.table[1], p.column, p.kind, p.params, p.side) for p in analyse(sql, T, columns).predicates]


def test_shape_joins_grouping_subqueries_and_parameters():
    assert kinds("SELECT o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = $1") == [
        ("customers", "email", "eq", (1,), ""), ("orders", "customer_id", "eq", (), ""),
        ("customers", "id", "eq", (), "")]
    assert kinds("SELECT status, count(*) FROM orders WHERE created_at >= $1 GROUP BY status") == [
        ("orders", "created_at", "range", (1,), "lo"), ("orders", "status", "group", (), "")]
    assert kinds("SELECT id FROM orders WHERE $1 > total AND at BETWEEN $2 AND $3") == [
        ("orders", "total", "range", (1,), "hi"), ("orders", "at", "range", (2, 3), "between")]
    assert kinds("SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE name = $1)") == [
        ("orders", "customer_id", "eq", (), ""), ("customers", "name", "eq", (1,), "")]
    assert kinds("WITH r AS (SELECT * FROM orders WHERE status = $1) SELECT * FROM r") == [
        ("orders", "status", "eq", (1,), "")]
    # an unqualified column of a join resolves by which table has it
    assert ("customers", "email", "eq", (1,), "") in kinds(
        "SELECT 1 FROM orders o JOIN customers c ON c.id = o.customer_id WHERE email = $1",
        {CUSTOMERS: {"id", "email"}, ORDERS: {"id", "customer_id"}})
    lowered = analyse("SELECT * FROM customers WHERE lower(email) = lower($1)", T).predicates[0]
    assert (lowered.column, lowered.kind, lowered.lowered, lowered.params) == ("email", "eq", True, (1,))
    ilike = analyse("SELECT * FROM customers WHERE name ILIKE $1", T).predicates[0]
    assert (ilike.kind, ilike.insensitive, ilike.lowered) == ("like", True, False)
    s = analyse("UPDATE orders SET status = $1 WHERE created_at < now() - $2::interval", T)
    assert s.params == {1, 2} and s.unknown_params == {2}  # $1 is a value written, $2 sits in an expression


FACTS = {
    ("public", "orders", "id"): ColumnFacts("bigint", 100_000, 8),
    ("public", "orders", "customer_id"): ColumnFacts("bigint", 10_000, 8),
    ("public", "orders", "status"): ColumnFacts("text", 5, 8, False),
    ("public", "orders", "channel"): ColumnFacts("text", 3, 6, False),
    ("public", "orders", "created_at"): ColumnFacts("timestamp with time zone", 100_000, 8),
    ("public", "orders", "note"): ColumnFacts("text", 90_000, 400, False),
    ("public", "orders", "extra"): ColumnFacts("jsonb", 50, 60),
    ("public", "customers", "email"): ColumnFacts("text", 10_000, 20, False),
    ("public", "customers", "code"): ColumnFacts("text", 10_000, 8, True),
    ("public", "customers", "id"): ColumnFacts("bigint", 10_000, 8),
}


def cands(sql: str) -> list[tuple]:
    return [(c.table[1], c.using, c.columns, c.include, c.primary)
            for c in candidates_for("q", analyse(sql, T), FACTS)]


def test_candidates_order_equality_range_sort_and_grouping():
    found = cands("SELECT id FROM orders WHERE status = $1 AND customer_id = $2 ORDER BY created_at DESC")
    assert ("orders", "btree", ["customer_id", "status", "created_at DESC"], [], True) in found  # more distinct first
    assert ("orders", "btree", ["customer_id"], [], False) in found
    grouped = cands("SELECT status, count(*) FROM orders WHERE created_at >= $1 GROUP BY status")
    assert ("orders", "btree", ["created_at", "status"], [], False) in grouped
    three = cands("SELECT id FROM orders WHERE channel = $1 AND customer_id = $2 AND created_at > $3")
    assert ("orders", "btree", ["customer_id", "channel", "created_at"], [], True) in three


def test_covering_variants_carry_narrow_columns_only():
    found = cands("SELECT id, created_at FROM orders WHERE customer_id = $1")
    assert ("orders", "btree", ["customer_id"], ["created_at", "id"], False) in found
    wide = cands("SELECT note FROM orders WHERE customer_id = $1")
    assert not [c for c in wide if c[3]]  # a 400-byte column is not carried


def test_like_prefix_needs_a_pattern_operator_class_unless_the_collation_is_c():
    found = cands("SELECT id FROM customers WHERE email LIKE $1")
    assert ("customers", "btree", [{"column": "email", "opclass": "text_pattern_ops"}], [], False) in found
    # with nothing else to go on, a heuristic takes the trigram index: it serves any pattern
    assert ("customers", "gin", [{"column": "email", "opclass": "gin_trgm_ops"}], [], True) in found
    assert ("customers", "btree", ["code"], [], False) in cands("SELECT id FROM customers WHERE code LIKE $1")
    lowered = cands("SELECT id FROM customers WHERE lower(email) LIKE $1")
    assert ("customers", "btree", [{"expression": "lower(email)", "opclass": "text_pattern_ops"}], [], False) \
        in lowered
    insensitive = cands("SELECT id FROM customers WHERE email ILIKE $1")
    assert [c[1] for c in insensitive] == ["gin"] and insensitive[0][4] is True  # no btree serves ILIKE
    json = cands("SELECT id FROM orders WHERE extra @> $1")
    assert json == [("orders", "gin", [{"column": "extra", "opclass": "jsonb_path_ops"}], [], True)]


STATS = {
    ("public", "orders", "status"): {"mcv": ["done", "new", "paid"], "mcf": [0.85, 0.05, 0.04],
                                     "histogram": ["a1", "b2", "c3", "d4", "e5"], "null_frac": 0.0},
    ("public", "orders", "created_at"): {"histogram": [f"2026-01-{d:02d}" for d in range(1, 32)]},
    ("public", "customers", "email"): {"histogram": ["ann@x.org", "bob@y.org", "zed@z.org"]},
}


def test_parameter_sets_weight_common_values_by_frequency():
    sets = parameter_sets(analyse("SELECT * FROM orders WHERE status = $1 LIMIT $2", T), STATS, rows_per_call=12.4)
    assert sets is not None and sum(s.weight for s in sets) == pytest.approx(1)
    done = next(s for s in sets if s.values[1] == "done")
    assert done.weight == pytest.approx(0.85) and done.values[2] == "12"  # LIMIT: the rows a call returned


def test_parameter_sets_for_ranges_like_and_unknowns():
    one_sided = parameter_sets(analyse("SELECT * FROM orders WHERE created_at >= $1", T), STATS, 1)
    assert [s.values[1] for s in one_sided] == ["2026-01-31", "2026-01-28", "2026-01-16"]  # ~1%, 10%, 50% of rows
    between = parameter_sets(analyse("SELECT * FROM orders WHERE created_at BETWEEN $1 AND $2", T), STATS, 1)
    assert all(s.values[1] <= s.values[2] for s in between)
    like = parameter_sets(analyse("SELECT * FROM customers WHERE email LIKE $1", T), STATS, 1)
    assert {s.values[1] for s in like} >= {"ann%", "ann@%"} and all(s.values[1].endswith("%") for s in like)
    assert parameter_sets(analyse("SELECT * FROM orders WHERE created_at > now() - $1::interval", T), STATS, 1) is None
    assert parameter_sets(analyse("SELECT * FROM orders WHERE id = $1", T), STATS, 1) is None  # no statistics
    assert parameter_sets(analyse("SELECT * FROM orders", T), STATS, 1) == []
    written = parameter_sets(analyse("UPDATE orders SET status = $1 WHERE created_at >= $2", T), STATS, 1)
    assert written and all(s.values[1] is None for s in written)  # a value written is NULL: it does not plan


class CostTable:
    """Costs of statements by the indexes present: ``table[i]`` maps a frozenset of index keys (the
    ones that matter) to a cost; the cheapest entry whose keys are all present applies."""

    def __init__(self, table: dict[int, dict[frozenset, float]], generic: dict[int, dict[frozenset, float]] | None
                 = None):
        self.table, self.generic = table, generic or {}

    @staticmethod
    def _cost(entries: dict[frozenset, float], keys: frozenset) -> float:
        return min(cost for needed, cost in entries.items() if needed <= keys)

    def expected(self, i, keys):
        return self._cost(self.table[i], keys)

    def generic_cost(self, i, keys):
        return self._cost(self.generic.get(i, self.table[i]), keys)

    def custom_costs(self, i, keys):
        return [self.expected(i, keys)]


def single(*keys):
    return [Move((k,), frozenset({("public", k[0])})) for k in keys]


TABLE_OF = {k: ("public", k[0]) for k in [("c", "email"), ("o", "cid"), ("o", "a"), ("o", "a", "b"), ("o", "x"),
                                           ("o", "y")]}


def test_a_join_that_needs_two_indexes_is_chosen_as_a_pair():
    email, cid = ("c", "email"), ("o", "cid")
    costs = CostTable({0: {frozenset(): 1000.0, frozenset({email}): 990.0, frozenset({email, cid}): 10.0},
                       1: {frozenset(): 50.0}})
    work = [Work(100, frozenset({("public", "c"), ("public", "o")})), Work(100, frozenset({("public", "o")}))]
    alone = choose.choose(work, single(email, cid), costs, TABLE_OF, min_saving=0.01)
    assert alone.chosen == []  # neither saves 1% alone
    pair = Move((email, cid), frozenset({("public", "c"), ("public", "o")}))
    chosen = choose.choose(work, [*single(email, cid), pair], costs, TABLE_OF, min_saving=0.01)
    assert set(chosen.chosen) == {email, cid} and chosen.workload_after < chosen.workload_before / 10


def test_an_index_the_set_makes_redundant_is_pruned():
    a, ab = ("o", "a"), ("o", "a", "b")
    costs = CostTable({0: {frozenset(): 500.0, frozenset({a}): 50.0, frozenset({ab}): 50.0},
                       1: {frozenset(): 500.0, frozenset({a}): 200.0, frozenset({ab}): 20.0}})
    work = [Work(10, frozenset({("public", "o")})), Work(10, frozenset({("public", "o")}))]
    result = choose.choose(work, single(a, ab), costs, TABLE_OF, min_saving=0.01)
    assert result.chosen == [ab]  # (a, b) serves both; (a) adds nothing once it is there


def test_greedy_stops_below_the_saving_threshold_and_at_the_cap():
    x, y = ("o", "x"), ("o", "y")
    costs = CostTable({0: {frozenset(): 1000.0, frozenset({x}): 100.0}, 1: {frozenset(): 100.0,
                                                                               frozenset({y}): 95.0}})
    work = [Work(1, frozenset({("public", "o")})), Work(1, frozenset({("public", "o")}))]
    assert choose.choose(work, single(x, y), costs, TABLE_OF, min_saving=0.01).chosen == [x]  # y saves 0.5%
    assert choose.choose(work, single(x, y), costs, TABLE_OF, min_saving=0.001).chosen == [x, y]
    assert choose.choose(work, single(x, y), costs, TABLE_OF, min_saving=0.001, max_indexes=1).chosen == [x]


def test_an_index_that_makes_a_plan_worse_is_dropped():
    x, y = ("o", "x"), ("o", "y")
    costs = CostTable({0: {frozenset(): 1000.0, frozenset({x}): 100.0}, 1: {frozenset(): 400.0,
                                                                               frozenset({y}): 100.0}},
                      generic={1: {frozenset(): 400.0, frozenset({y}): 100.0}, 0: {frozenset(): 1000.0}})
    worse = CostTable(costs.table, generic=costs.generic)
    worse.generic_cost = lambda i, keys: 1500.0 if i == 0 and y in keys else costs.generic_cost(i, keys)  # type: ignore
    work = [Work(1, frozenset({("public", "o")})), Work(1, frozenset({("public", "o")}))]
    assert set(choose.choose(work, single(x, y), costs, TABLE_OF).chosen) == {x, y}
    result = choose.choose(work, single(x, y), worse, TABLE_OF)
    assert result.chosen == [x]
    assert [(d.statement, d.index, d.what) for d in result.dropped] == [(0, y, "generic")]


def test_what_a_statement_writes():
    assert analyse("INSERT INTO orders (customer_id, total) VALUES ($1, $2)", T).writes == {ORDERS: None}
    assert analyse("UPDATE orders SET status = $1, total = total + $2 WHERE id = $3", T).writes \
        == {ORDERS: frozenset({"status", "total"})}
    assert analyse("UPDATE sales.orders o SET note = $1 FROM customers c WHERE c.id = o.customer_id", T).writes \
        == {("sales", "orders"): frozenset({"note"})}
    assert analyse("DELETE FROM orders WHERE id = $1", T).writes == {}
    assert analyse("SELECT * FROM orders WHERE id = $1", T).writes == {}
    assert analyse("INSERT INTO unknown_table VALUES ($1)", T).writes == {}


def test_upkeep_counts_inserts_and_the_updates_that_set_an_index_column():
    from reconciler.commands.advise.candidates import Candidate
    from reconciler.commands.advise.upkeep import upkeep
    from reconciler.commands.advise.workload import Statement

    def statement(queryid, query, calls, rows):
        return Statement(key=query, query=query, queryids=[queryid], calls=calls, total_ms=1.0, rows=rows, share=0.1)

    def writes_of(*statements):
        return [(s, analyse(s.query, T).writes) for s in statements]

    insert = statement(1, "INSERT INTO orders (customer_id, status) VALUES ($1, $2)", 100, 100)
    bulk = statement(2, "INSERT INTO orders SELECT * FROM staging", 2, 5000)
    set_status = statement(3, "UPDATE orders SET status = $1 WHERE id = $2", 40, 40)
    set_note = statement(4, "UPDATE orders SET note = $1 WHERE id = $2", 70, 70)
    set_total = statement(5, "UPDATE orders SET total = $1 WHERE id = $2", 9, 9)
    other_table = statement(6, "UPDATE customers SET status = $1 WHERE id = $2", 50, 50)
    writes = writes_of(insert, bulk, set_status, set_note, set_total, other_table)
    candidate = Candidate(ORDERS, ["customer_id", "status DESC"], include=["total"])
    found = upkeep(candidate, writes, indexed=frozenset({"id", "total"}))
    assert found["inserts"] == {"statements": 2, "calls": 102, "rows": 5100}
    assert [(u["queryid"], u["columns"], u["loses_hot"]) for u in found["updates"]] == \
        [(3, ["status"], True), (5, ["total"], False)]
    expression = Candidate(ORDERS, [{"expression": "lower(note)"}])
    assert [u["queryid"] for u in upkeep(expression, writes, frozenset())["updates"]] == [4]

    # on a table whose pages are full, the other updates are not HOT either: each pays an entry
    from reconciler.commands.advise.writecost import entry_us, write_ms
    assert found["other_updates"] == {"rows": 70, "non_hot_rows": 0}       # all HOT by default
    crowded = upkeep(candidate, writes, indexed=frozenset({"id", "total"}), hot_share=0.25)
    assert crowded["other_updates"] == {"rows": 70, "non_hot_rows": 52}
    extra = write_ms(crowded, 8, 2) - write_ms(found, 8, 2)
    assert abs(extra - 52 * entry_us("update", 8) / 1000) < 1e-9


def test_an_ordered_walk_that_filters_under_a_limit_is_costed_whole():
    from reconciler.commands.advise.walks import pessimistic_cost, walk_penalty
    walk = {"Node Type": "Limit", "Total Cost": 4.68, "Plans": [
        {"Node Type": "Index Scan", "Total Cost": 131.48, "Index Cond": "(created_at < x)",
         "Filter": "(status = 'done')"}]}
    assert walk_penalty(walk) == 131.48 - 4.68 and pessimistic_cost(walk) == 131.48
    served = {"Node Type": "Limit", "Total Cost": 9.0, "Plans": [
        {"Node Type": "Index Scan", "Total Cost": 40.0, "Index Cond": "(status = 'x' AND created_at < y)"}]}
    assert pessimistic_cost(served) == 9.0                       # no Filter: the planner's cost stands
    sorted_first = {"Node Type": "Limit", "Total Cost": 12.0, "Plans": [
        {"Node Type": "Sort", "Total Cost": 11.0, "Plans": [
            {"Node Type": "Index Scan", "Total Cost": 10.0, "Filter": "(a > 1)"}]}]}
    assert pessimistic_cost(sorted_first) == 12.0                # a Sort reads everything anyway
    nested = {"Node Type": "Aggregate", "Total Cost": 30.0, "Plans": [
        {"Node Type": "Limit", "Total Cost": 20.0, "Plans": [
            {"Node Type": "Nested Loop", "Total Cost": 500.0, "Plans": [
                {"Node Type": "Index Only Scan", "Total Cost": 300.0, "Filter": "(b = 2)"},
                {"Node Type": "Index Scan", "Total Cost": 1.0}]}]}]}
    assert pessimistic_cost(nested) == 30.0 + 480.0


def test_the_set_is_solved_exactly_on_a_cost_table():
    """Indexes that interact (two half-useful ones, one large one useful to both, one that serves a
    third statement): under every storage budget and write cost the solver's set costs what the
    brute-force optimum costs, and the budget and the per-table cap hold."""
    from itertools import combinations

    from reconciler.commands.advise.solve import Problem, solve
    a, b, c, d = ("a",), ("b",), ("c",), ("d",)
    none = frozenset()
    configurations = [
        {none: 100.0, frozenset({a}): 40.0, frozenset({c}): 10.0, frozenset({d}): 60.0},
        {none: 100.0, frozenset({b}): 40.0, frozenset({c}): 10.0, frozenset({d}): 60.0},
        {none: 50.0, frozenset({a}): 45.0, frozenset({b}): 45.0, frozenset({d}): 5.0},
    ]
    sizes = {a: 10, b: 10, c: 30, d: 10}
    tables = dict.fromkeys(sizes, "t")

    def total_of(chosen, writes):
        return sum(min(cost for conf, cost in confs.items() if conf <= set(chosen))
                   for confs in configurations) + sum(writes.get(k, 0) + 0.01 * (1 + 0.1 * sizes[k] / 30)
                                                      for k in chosen)

    def brute(max_bytes, writes):
        return min(total_of(chosen, writes) for n in range(len(sizes) + 1) for chosen in combinations(sizes, n)
                   if sum(sizes[k] for k in chosen) <= max_bytes)

    for max_bytes, writes in ((100, {}), (30, {}), (20, {}), (100, {c: 200.0}), (100, {d: 1.0, c: 70.0})):
        found = solve(Problem([1, 1, 1], configurations, sizes, tables, write_cost=writes, min_gain=0.01,
                              max_bytes=max_bytes))
        total = brute(max_bytes, writes)
        assert found.status == "OPTIMAL" and abs(total_of(found.chosen, writes) - total) < 1e-6, (max_bytes, found)
        assert abs(found.objective - total) < 1e-3 and found.gap_pct == 0.0
        assert sum(sizes[k] for k in found.chosen) <= max_bytes
    capped = solve(Problem([1, 1, 1], configurations, sizes, tables, min_gain=0.01, max_per_table=1))
    assert len(capped.chosen) == 1


def test_chart_axes_use_short_numbers_and_few_ticks():
    import re

    from reconciler.commands.advise.charts import compact, index_usage
    assert [compact(v) for v in (0, 0.5, 950, 12_000, 25_000, 3_400_000, 1.2e9)] == \
        ["0", "0.5", "950", "12k", "25k", "3.4M", "1.2G"]
    usage = [{"index": f"idx_{i}", "size_bytes": 8192 * (i + 1), "scans": 37_000 * (i + 1)} for i in range(6)]
    svg = index_usage(usage, set(), set())
    ticks = re.findall(r">(\d+(?:\.\d)?[kMG]?)</text>", svg or "")
    assert "185k" in svg or "200k" in svg or "150k" in svg
    assert not [t for t in ticks if len(t) > 5]


def test_pg_qualstats_constants_are_read_as_written():
    from reconciler.commands.advise.qualstats import collect, constant, single_selective, weighted
    assert constant("'failed'::text") == "failed" and constant("'it''s'::character varying") == "it's"
    assert constant("42::integer") == "42" and constant("-1.5::numeric") == "-1.5"
    assert constant("'{a,b}'::text[]") is None and constant("now()") is None and constant("") is None
    rows = [{"queryid": 7, "schema": "public", "table": "jobs", "column": "status", "constvalue": "'pending'::text",
             "calls": 30, "seen": 3_000_000, "filtered": 2_970_000},
            {"queryid": 8, "schema": "public", "table": "jobs", "column": "status", "constvalue": "'done'::text",
             "calls": 3, "seen": 300, "filtered": 30},
            {"queryid": 8, "schema": "public", "table": "jobs", "column": "status", "constvalue": "'failed'::text",
             "calls": 1, "seen": 100, "filtered": 99}]
    found = collect(rows)
    pending = found[7][(("public", "jobs"), "status")]
    assert single_selective(pending).value == "pending" and abs(pending[0].matched - 0.01) < 1e-9
    assert single_selective(found[8][(("public", "jobs"), "status")]) is None   # two constants: no partial
    assert weighted(found[8][(("public", "jobs"), "status")]) == [("done", 0.75), ("failed", 0.25)]


def _candidate(table: str, *columns: str):
    from reconciler.commands.advise.candidates import Candidate
    return Candidate(("public", table), list(columns), queries=[f"q-{table}"])


def test_write_loads_price_inserts_updates_and_lost_hot_once():
    from reconciler.commands.advise.workload import Statement
    from reconciler.commands.advise.writecost import LOST_HOT_US, entry_us
    from reconciler.commands.advise.writeguard import TableWrites, write_loads

    kind, total = _candidate("orders", "status"), _candidate("orders", "total")
    insert = Statement(key="i", query="INSERT INTO orders (status) VALUES ($1)", queryids=[1], calls=10,
                       total_ms=10.0, rows=1000, share=0.1)
    update = Statement(key="u", query="UPDATE orders SET status = $1 WHERE id = $2", queryids=[2], calls=10,
                       total_ms=5.0, rows=1000, share=0.1)
    writes = [(insert, analyse(insert.query, T).writes), (update, analyse(update.query, T).writes)]
    facts = {ORDERS: TableWrites(indexes=1, indexed=frozenset({"id"}), hot_share=0.8)}
    loads = write_loads(writes, [kind, total], facts, lambda c: 8)
    by_query = {load.queryid: load for load in loads}
    ins, upd = by_query[1], by_query[2]
    assert ins.added([kind.key]) == pytest.approx(1000 * entry_us("insert", 8) / 1000)
    assert ins.added([kind.key, total.key]) == pytest.approx(2 * ins.added([kind.key]))
    entry = entry_us("update", 8) / 1000
    # (total) alone: an entry for the 20% of rows that are not HOT anyway; the update keeps HOT
    assert upd.added([total.key]) == pytest.approx(1000 * 0.2 * entry)
    # (status): every row an entry, and the 80% HOT rows lose HOT once: heap tuple + the PK's entry
    lost = 1000 * 0.8 * (entry_us("update", 8) + LOST_HOT_US) / 1000
    assert upd.added([kind.key]) == pytest.approx(1000 * entry + lost)
    # both: (total) then takes an entry for every row too
    assert upd.added([kind.key, total.key]) == pytest.approx(1000 * entry + lost + 1000 * entry)
    assert upd.slowdown([kind.key]) == pytest.approx((5.0 + upd.added([kind.key])) / 5.0)


def test_the_solver_and_greedy_keep_each_write_within_its_slowdown():
    """Two indexes each save a read statement a lot; together they would make the UPDATE lose HOT
    *and* pay both entries: 1.0 + 0.5 + 0.4 (lost) + 0.5 (the other's extra) ms on 1 ms measured.
    At 2x, the set may add 1 ms: either index alone fits (x alone 0.5 + lost 0.4), not both."""
    from reconciler.commands.advise.writeguard import WriteLoad

    x, y = ("o", "x"), ("o", "y")
    load = WriteLoad(2, "UPDATE o SET x = $1, y = $2", 1.0, alone={x: 0.5, y: 0.5}, breaks_hot=frozenset({x, y}),
                     lost_ms=0.4, lost_extra={})
    assert load.added([x]) == pytest.approx(0.9) and load.added([x, y]) == pytest.approx(1.4)
    costs = CostTable({0: {frozenset(): 1000.0, frozenset({x}): 100.0}, 1: {frozenset(): 900.0,
                                                                               frozenset({y}): 100.0}})
    work = [Work(1, frozenset({("public", "o")})), Work(1, frozenset({("public", "o")}))]
    assert set(choose.choose(work, single(x, y), costs, TABLE_OF).chosen) == {x, y}     # no limit: both
    greedy = choose.choose(work, single(x, y), costs, TABLE_OF, write_loads=[load], max_write_slowdown=2.0)
    exact = choose.choose_exact(work, single(x, y), costs, TABLE_OF, write_loads=[load],
                                limits=choose.Limits(max_write_slowdown=2.0))
    assert greedy.chosen == [x] and exact.chosen == [x]                                 # the larger saving
    # the pair term: y does not break HOT but pays for the HOT rows once x does
    paired = WriteLoad(3, "UPDATE o SET x = $1", 1.0, alone={x: 0.3, y: 0.1}, breaks_hot=frozenset({x}),
                       lost_ms=0.3, lost_extra={y: 0.5})
    assert paired.added([y]) == pytest.approx(0.1) and paired.added([x]) == pytest.approx(0.6)
    assert paired.added([x, y]) == pytest.approx(1.2)
    exact = choose.choose_exact(work, single(x, y), costs, TABLE_OF, write_loads=[paired],
                                limits=choose.Limits(max_write_slowdown=2.0))
    assert exact.chosen == [x]
    roomy = choose.choose_exact(work, single(x, y), costs, TABLE_OF, write_loads=[paired],
                                limits=choose.Limits(max_write_slowdown=2.3))
    assert set(roomy.chosen) == {x, y}
