"""The output layer: each command declares its formats; the CLI refuses others before doing
anything (exit 1, listing the valid ones); JSON exists for every command that reports."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from reconciler.output import formats
from reconciler.output.registry import renderer
from reconciler.ui.cli import app

COMMANDS = {
    "plan": ("text", "json", "markdown", "sql"), "apply": ("text", "json"), "check": ("text", "json", "markdown"),
    "advise": ("text", "json", "markdown", "html"), "maintain": ("text", "json"), "history": ("text", "json"),
    "bench": ("text", "json"), "validate": ("text", "json"), "render": ("text", "json"),
    "inspect": ("yaml", "json", "text"), "schema": ("json",), "fleet": ("text", "json", "markdown"),
}


def test_every_command_declares_its_formats():
    for command, expected in COMMANDS.items():
        assert formats(command) == expected, command


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"fleet"}))
def test_an_undeclared_format_is_refused_before_anything_runs(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no schema.yaml here: the format is checked first
    result = CliRunner().invoke(app, [command, "--format", "yaml" if command != "inspect" else "markdown"])
    assert result.exit_code == 1
    assert f"{command} --format must be one of {', '.join(COMMANDS[command])}" in result.stderr


def test_a_format_has_one_renderer_and_is_declared():
    import reconciler.output.plans  # noqa: F401 - registers the plan renderers
    with pytest.raises(RuntimeError, match="two renderers for plan --format json"):
        renderer("plan", "json")(lambda result, fmt: "")
    with pytest.raises(RuntimeError, match="plan does not declare --format yaml"):
        renderer("plan", "yaml")(lambda result, fmt: "")


def test_validate_and_render_in_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schema.yaml").write_text("version: 1\npostgres:\n  settings: {work_mem: 8MB}\n"
                                          "tables:\n  public.t: {indexes: [{name: t_a, columns: [a]}]}\n")
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", "--format", "json"])
    assert validated.exit_code == 0
    assert json.loads(validated.stdout) == {"valid": True, "file": "schema.yaml", "tables": 1, "indexes": 1,
                                            "extensions": 0}
    rendered = runner.invoke(app, ["render", "--format", "json"])
    assert json.loads(rendered.stdout)["written"] == ["postgres/postgresql.conf"]
    checked = runner.invoke(app, ["render", "--check", "--format", "json"])
    assert checked.exit_code == 0 and json.loads(checked.stdout)["stale"] == []
    (tmp_path / "schema.yaml").write_text((tmp_path / "schema.yaml").read_text().replace("8MB", "16MB"))
    stale = runner.invoke(app, ["render", "--check", "--format", "json"])
    assert stale.exit_code == 1 and json.loads(stale.stdout)["stale"] == ["postgres/postgresql.conf"]


def test_apply_text_names_restarted_members_and_replicas_it_could_not_verify():
    from datetime import datetime, timezone

    from reconciler.engine.apply import ApplyResult
    from reconciler.output import render_result
    from reconciler.plan.models import Plan
    plan = Plan(spec_sha256="0" * 64, fingerprint="", database="app", server_version="15.20",
                created_at=datetime(2026, 11, 28, tzinfo=timezone.utc))
    result = ApplyResult(plan=plan, results=[], remaining=plan, waited_s=0.0, restarted=["m2", "m1"],
                         unverified=["m3 (stopped)"])
    text = render_result("apply", "text", result)
    assert "Restarted through Patroni: m2, m1." in text
    assert "Not verified on m3 (stopped): PostgreSQL is not running there (Patroni)" in text
    assert json.loads(render_result("apply", "json", result))["unverified_replicas"] == ["m3 (stopped)"]
    quiet = render_result("apply", "text", ApplyResult(plan=plan, results=[], remaining=plan, waited_s=0.0))
    assert "Not verified" not in quiet and "Restarted" not in quiet
