from tests.pgtest import actions

SPEC = """
version: 1
tables:
  public.t:
    indexes:
      - name: t_a
        columns: [a, "b DESC"]
        where: "c IN ('x', 'y')"
"""


def test_create_then_converge(db, spec_file):
    db.execute("CREATE TABLE t (a int, b text, c text)")
    spec = spec_file(SPEC)
    plan = db.plan_json(spec)
    assert actions(plan) == [("index", "create", "t_a")]
    db.apply(spec)
    db.assert_converged(spec)
    valid, definition = db.indexes("t")["t_a"]
    assert valid and "ANY" in definition
