"""Trust boundaries that need no server (issue 17): input that would exhaust pgrecon, files written
whole, text from outside escaped where it becomes a comment or reaches a terminal, one redaction,
saved plans compared statement for statement, statements the advisor reads."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime

import pytest
import yaml

from reconciler.base.errors import Refused, SpecError
from reconciler.base.files import comment_text, write_atomic
from reconciler.base.kinds import Action, ChangeKind
from reconciler.base.markup import controls_escaped
from reconciler.base.redaction import forget_all, redact, remember, remember_dsn
from reconciler.commands.advise.vetting import names_in
from reconciler.engine.apply.saved import check_saved, differences
from reconciler.plan.models import Change, Hazard, Plan, Statement
from reconciler.resources.document import load_spec_text

# ---------------------------------------------------------------- 6. input that exhausts it


def _timed_problem(text: str) -> tuple[SpecError, float]:
    started = time.monotonic()
    with pytest.raises(SpecError) as caught:
        load_spec_text(text)
    return caught.value, time.monotonic() - started


def test_an_alias_bomb_is_a_located_error_in_milliseconds():
    lines = ["version: 1", "x0: &a0 [a, a, a, a, a, a, a, a, a, a]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    lines.append("tables: *a8")
    error, seconds = _timed_problem("\n".join(lines) + "\n")   # 10^9 nodes if expanded
    assert "aliases expand to more than" in str(error) and error.problems[0].line is not None
    assert seconds < 2.0


def test_reasonable_aliases_still_work():
    spec = load_spec_text("""version: 1
tables:
  public.t: &t {indexes: [{name: t_a, columns: [a]}]}
  other.t: *t
""")
    assert [t.indexes[0].name for t in spec.tables.values()] == ["t_a", "t_a"]


@pytest.mark.parametrize("text", [
    "version: 1\ntables: " + "[" * 600 + "]" * 600 + "\n",
    "version: 1\ntables:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(600)),
])
def test_deep_nesting_is_a_located_error(text):
    error, seconds = _timed_problem(text)
    assert "nested more than 64 levels" in str(error) and error.problems[0].line
    assert "RecursionError" not in str(error) and seconds < 2.0


def test_an_expression_of_500_terms_is_a_located_error():
    terms = " + ".join(["a"] * 500)
    error, _ = _timed_problem(f'version: 1\ntables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: ["({terms})"]}}\n')
    assert "nested more than 100 levels" in str(error)
    assert error.problems[0].path == "tables.public.t.indexes[0].columns[0]"


# ---------------------------------------------------------------- 8. files written whole


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "schema.yaml"
    path.write_text("version: 1\n")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_atomic(path, "version: 1\ntables: {}\n" * 1000)
    assert path.read_text() == "version: 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.yaml"]   # no temporary file left


def test_a_secret_file_is_created_with_its_mode_and_never_written_through_a_link(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours\n")
    target = tmp_path / "userlist.txt"
    target.symlink_to(elsewhere)
    modes = []
    real_replace = os.replace

    def watching_replace(src, dst):
        modes.append(stat.S_IMODE(os.stat(src).st_mode))   # the temporary file, before it takes the name
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)
    write_atomic(target, '"app" "SCRAM-SHA-256$…"\n', 0o600)
    assert modes == [0o600]
    assert not target.is_symlink() and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert elsewhere.read_text() == "not yours\n"


def test_the_old_predictable_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    target = tmp_path / "pgbouncer.ini"
    (tmp_path / "pgbouncer.ini.pgrecon-tmp").symlink_to(victim)   # planted where the old code wrote
    write_atomic(target, "[pgbouncer]\n")
    assert victim.read_text() == "keep\n" and target.read_text() == "[pgbouncer]\n"


def test_text_from_the_database_stays_inside_a_yaml_comment():
    evil = "t_a\r      - {name: evil, columns: [a], unique: true}\u2028x\x1b[2J"
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    doc = CommentedMap(version=1, tables=CommentedMap({"public.t": CommentedMap(indexes=CommentedSeq())}))
    doc["tables"]["public.t"]["indexes"].append(CommentedMap(name="t_a", columns=["a"]))
    doc["tables"]["public.t"]["indexes"].yaml_set_comment_before_after_key(0, before=comment_text(evil), indent=6)
    import io
    out = io.StringIO()
    YAML().dump(doc, out)
    loaded = yaml.safe_load(out.getvalue())
    assert [ix["name"] for ix in loaded["tables"]["public.t"]["indexes"]] == ["t_a"]
    assert "\\r" in out.getvalue() and "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


# ---------------------------------------------------------------- 9. output


def test_control_characters_are_escaped_for_terminals():
    assert controls_escaped("ix\x1b[2J\rhidden\u2028") == "ix\\x1b[2J\\x0dhidden\\u2028"
    assert controls_escaped("line\n\tindented") == "line\n\tindented"


# ---------------------------------------------------------------- 5. secrets: one redaction


def test_one_redaction_for_remembered_secrets_and_connection_strings():
    forget_all()
    remember("hunter22")
    remember_dsn("postgresql://app:50%25off@db/x")
    text = redact("password=s3cr3t host=h; url postgresql://u:pw@h/db; hunter22; 50%off")
    assert "s3cr3t" not in text and ":pw@" not in text and "hunter22" not in text and "50%off" not in text
    forget_all()


# ---------------------------------------------------------------- 1. saved plans


def _plan(*changes: Change) -> Plan:
    return Plan(spec_sha256="s", fingerprint="f", database="d", server_version="18", created_at=datetime.now(UTC),
                changes=changes)


CREATE = Change(kind=ChangeKind.INDEX, action=Action.CREATE, name="t_a", table="public.t",
                statements=(Statement(sql="CREATE INDEX CONCURRENTLY t_a ON public.t USING btree (a)",
                                      transactional=False, lock="SHARE UPDATE EXCLUSIVE", builds=("public", "t_a")),))
DROP = Change(kind=ChangeKind.INDEX, action=Action.DROP, name="t_old", table="public.t", hazards=(Hazard.INDEX_DROP,),
              statements=(Statement(sql="DROP INDEX CONCURRENTLY public.t_old", transactional=False),))


def test_a_saved_plan_equal_to_the_fresh_one_passes():
    check_saved(_plan(CREATE, DROP), _plan(CREATE, DROP))


@pytest.mark.parametrize("edit, said", [
    (lambda c: c.model_copy(update={"statements": (Statement(sql="CREATE TABLE pwned (i int)"),)}),
     "statement 1 in the file is 'CREATE TABLE pwned"),
    (lambda c: c.model_copy(update={"hazards": ()}), "hazards"),
    (lambda c: c.model_copy(update={"statements": (c.statements[0].model_copy(
        update={"target": "file", "path": "/etc/cron.d/x", "content": "* * * * * root sh"}),)}), "target"),
])
def test_any_edit_of_a_saved_plan_is_refused_with_what_differs(edit, said):
    with pytest.raises(Refused) as refused:
        check_saved(_plan(CREATE, edit(DROP)), _plan(CREATE, DROP))
    assert "not the plan pgrecon makes now" in refused.value.message and said in refused.value.message


def test_an_added_or_missing_change_is_named():
    found = differences(_plan(CREATE, DROP), _plan(CREATE))
    assert found == ["index drop t_old on public.t: in the file, not in the plan made now"]
    assert differences(_plan(DROP, CREATE), _plan(CREATE, DROP)) == ["the same changes in another order"]


# ---------------------------------------------------------------- 2. what a statement names


def test_the_advisor_reads_every_name_a_statement_uses():
    names = names_in("WITH w AS (DELETE FROM t RETURNING *) SELECT public.f($1), lower(x)::mytype, a BETWEEN 1 AND 2 "
                     "FROM w, s.tab JOIN v USING (id) WHERE a OPERATOR(public.===) 3 AND b LIKE $2 "
                     "AND c = ANY(SELECT 1) ORDER BY a USING <")
    assert {("public", "f"), ("", "lower")} <= names.functions
    assert {("public", "==="), ("", "~~"), ("", "="), ("", "<"), ("", ">=")} <= names.operators
    assert ("", "mytype") in names.types
    assert names.relations == {("", "t"), ("s", "tab"), ("", "v")}   # w is the CTE
    assert names.writes
    assert names_in("SELECT 1; SELECT 2").problem and names_in("VACUUM t").problem
