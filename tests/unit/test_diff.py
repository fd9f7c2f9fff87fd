"""The diff is pure: synthetic catalogs in, typed actions out (no database)."""

from __future__ import annotations

from reconciler.catalog.models import Catalog, Column, IndexDefinition, IndexKey, LiveIndex, LiveTable, ServerInfo
from reconciler.resources.document import load_spec_text
from reconciler.resources.indexes.desired import DesiredIndex, plain_definition
from reconciler.resources.indexes.diff import TEMP_PREFIX, child_index_name, diff_indexes, temp_index_name
from reconciler.resources.indexes.resource import index_changes

SERVER = ServerInfo(180000, "18.0", "db", "u")


def definition(*columns: str) -> IndexDefinition:
    return IndexDefinition("btree", tuple(IndexKey(column=c, expression=None) for c in columns))


def table(oid=1, name="t", kind="r", parent=None):
    return LiveTable(oid, "public", name, kind, (Column("a", "int", None, False), Column("b", "int", None, False)),
                     parent_oid=parent)


def index(oid, name, *columns, table_oid=1, valid=True, partitioned=False, parent=None, constraints=()):
    return LiveIndex(oid, "public", name, table_oid, definition(*columns), valid, valid, partitioned, parent,
                     tuple(constraints))


def catalog(tables, indexes):
    return Catalog(SERVER, {t.oid: t for t in tables}, {i.oid: i for i in indexes}, {})


def spec(indexes_yaml: str, prune: bool = False):
    return load_spec_text(f"version: 1\ntables:\n  public.t:\n    prune_unmanaged_indexes: {str(prune).lower()}\n"
                          f"    indexes:\n{indexes_yaml}")


def desired_of(s):
    return [DesiredIndex("public.t", i, ix, plain_definition(ix)) for i, ix in enumerate(s.tables["public.t"].indexes)]


def run(s, cat):
    return diff_indexes(s, cat, desired_of(s))


def summary(result):
    return [(a.action, a.name) for a in result.actions]


def test_in_sync_is_empty():
    s = spec("      - {name: t_a, columns: [a]}\n")
    result = run(s, catalog([table()], [index(10, "t_a", "a")]))
    assert result.actions == [] and result.notes == [] and result.problems == []


def test_missing_renamed_redefined():
    s = spec("      - {name: t_a, columns: [a]}\n      - {name: t_b, columns: [b]}\n      - {name: t_ab, columns: [a, b]}\n")
    cat = catalog([table()], [index(10, "old_b", "b"), index(11, "t_a", "b", "a")])
    result = run(s, cat)
    assert summary(result) == [("replace", "t_a"), ("rename", "t_b"), ("create", "t_ab")]
    replace = result.actions[0]
    assert replace.adopt is None and "keys (b, a) -> (a)" in replace.reason


def test_swapped_names_are_rebuilt_not_renamed():
    s = spec("      - {name: x, columns: [a]}\n      - {name: y, columns: [b]}\n")
    result = run(s, catalog([table()], [index(10, "x", "b"), index(11, "y", "a")]))
    assert summary(result) == [("replace", "x"), ("replace", "y")]


def test_invalid_same_name_is_rebuilt_without_hazard():
    s = spec("      - {name: t_a, columns: [a]}\n")
    result = run(s, catalog([table()], [index(10, "t_a", "a", valid=False)]))
    assert summary(result) == [("rebuild", "t_a")]
    change = index_changes(result.actions)[0]
    assert change.hazards == ()
    assert [st.transactional for st in change.statements] == [False, False]
    assert change.statements[0].sql.startswith("DROP INDEX CONCURRENTLY IF EXISTS public.t_a")


def test_interrupted_replace_is_resumed_by_adopting_the_built_index():
    s = spec("      - {name: t_a, columns: [a, b]}\n")
    temp = temp_index_name("public", "t", "t_a")
    result = run(s, catalog([table()], [index(10, "t_a", "a"), index(11, temp, "a", "b")]))
    assert summary(result) == [("replace", "t_a")]
    change = index_changes(result.actions)[0]
    assert [st.sql for st in change.statements] == [
        "DROP INDEX CONCURRENTLY public.t_a", f"ALTER INDEX public.{temp} RENAME TO t_a"]


def test_replace_builds_first_then_drops_then_renames():
    s = spec("      - {name: t_a, columns: [a, b]}\n")
    change = index_changes(run(s, catalog([table()], [index(10, "t_a", "a")])).actions)[0]
    kinds = [st.sql.split()[0:2] for st in change.statements]
    assert kinds == [["CREATE", "INDEX"], ["DROP", "INDEX"], ["ALTER", "INDEX"]]
    assert change.statements[0].builds == ("public", temp_index_name("public", "t", "t_a"))
    assert [h.value for h in change.hazards] == ["index-rebuild"]


def test_leftovers_are_dropped_first_and_unmanaged_reported():
    s = spec("      - {name: t_a, columns: [a]}\n")
    cat = catalog([table()], [index(10, "t_a", "a"), index(11, f"{TEMP_PREFIX}deadbeef_x", "b", valid=False),
                              index(12, "by_hand", "b")])
    result = run(s, cat)
    assert summary(result) == [("drop", f"{TEMP_PREFIX}deadbeef_x")]
    assert result.actions[0].leftover
    assert [(n.name, n.message) for n in result.notes] == [("by_hand", "unmanaged: not in the spec (kept)")]


def test_prune_drops_unmanaged_but_never_constraint_indexes():
    s = spec("      - {name: t_a, columns: [a]}\n", prune=True)
    cat = catalog([table()], [index(10, "t_a", "a"), index(11, "t_pkey", "b", constraints=["t_pkey"]),
                              index(12, "by_hand", "b")])
    result = run(s, cat)
    changes = index_changes(result.actions)
    assert [(c.action, c.name, [h.value for h in c.hazards], c.destructive) for c in changes] == [
        ("drop", "by_hand", ["index-drop"], True)]
    assert [n.name for n in result.notes] == ["t_pkey"]


def test_constraint_index_under_declared_name_is_a_problem():
    s = spec("      - {name: t_pkey, columns: [a, b]}\n")
    result = run(s, catalog([table()], [index(10, "t_pkey", "a", constraints=["t_pkey"])]))
    assert result.actions == []
    assert result.problems and "backs constraint t_pkey" in result.problems[0][1]


def test_create_orders_before_drop():
    s = spec("      - {name: t_b, columns: [b]}\n", prune=True)
    result = run(s, catalog([table()], [index(10, "old", "a")]))
    assert [c.action for c in index_changes(result.actions)] == ["create", "drop"]


def test_partitioned_create_builds_each_partition_and_attaches():
    parent = table(1, "t", "p")
    parts = [table(2, "t_1", parent=1), table(3, "t_2", parent=1)]
    hand = index(20, "t_2_hand", "a", table_oid=3)
    s = spec("      - {name: t_a, columns: [a]}\n")
    result = run(s, catalog([parent, *parts], [hand]))
    change = index_changes(result.actions)[0]
    assert [st.sql for st in change.statements] == [
        "CREATE INDEX t_a ON ONLY public.t USING btree (a)",
        f"CREATE INDEX CONCURRENTLY {child_index_name('t_1', 't_a')} ON public.t_1 USING btree (a)",
        f"ALTER INDEX public.t_a ATTACH PARTITION public.{child_index_name('t_1', 't_a')}",
        "ALTER INDEX public.t_a ATTACH PARTITION public.t_2_hand",
    ]
    assert [st.transactional for st in change.statements] == [True, False, True, True]
    assert change.details["partitions"] == {"build": 1, "attach": 1}


def test_partitioned_replace_needs_table_lock():
    parent = table(1, "t", "p")
    part = table(2, "t_1", parent=1)
    live_parent = index(10, "t_a", "a", partitioned=True)
    child = index(11, "t_1_t_a", "a", table_oid=2, parent=10)
    s = spec("      - {name: t_a, columns: [a, b]}\n")
    change = index_changes(run(s, catalog([parent, part], [live_parent, child])).actions)[0]
    assert sorted(h.value for h in change.hazards) == ["index-rebuild", "table-lock"]
    assert "DROP INDEX public.t_a" in [st.sql for st in change.statements]
    assert "ACCESS EXCLUSIVE" in change.locks


def test_long_names_fit_63_bytes():
    name = child_index_name("p" * 60, "i" * 60)
    assert len(name.encode()) <= 63 and name != child_index_name("p" * 60, "i" * 59)
    assert len(temp_index_name("public", "t", "x" * 63).encode()) <= 63
