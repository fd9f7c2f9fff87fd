"""The GitOps sequence of examples/ci, run locally against a real server as CI would run it:
validate, render --check, plan to a markdown comment and a saved plan, apply that plan, history,
nightly check and maintain."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run(args, cwd, env):
    return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_ci_sequence_against_a_real_server(db, tmp_path):
    from reconciler.commands.examples import examples_dir, load_generator
    db.execute((examples_dir() / "schema.sql").read_text())
    load_generator().generate(db.conn, agents=500, links=1500)
    work = tmp_path / "repo"
    work.mkdir()
    spec = yaml.safe_load((ROOT / "schema.yaml").read_text())
    spec.pop("postgres")            # cluster-wide settings stay out of a shared test server
    spec["maintenance"] = {"schedule": "0 3 * * *", "window": "2h"}
    (work / "schema.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    shutil.copytree(ROOT / "pgbouncer", work / "pgbouncer", ignore=shutil.ignore_patterns("userlist.txt"))
    env = {**os.environ, "DATABASE_URL": db.dsn}
    for workflow in ("pgrecon-pr.yml", "pgrecon-merge.yml", "pgrecon-nightly.yml"):
        assert yaml.safe_load((ROOT / "examples" / "ci" / workflow).read_text())["jobs"]

    assert run(["validate", "-f", "schema.yaml"], work, env).returncode == 0
    assert run(["render", "--check", "-f", "schema.yaml"], work, env).returncode == 0
    plan = run(["plan", "-f", "schema.yaml", "--format", "markdown", "--out", "plan.json"], work, env)
    assert plan.returncode == 2, plan.stderr
    assert "### pgrecon plan" in plan.stdout and (work / "plan.json").exists()
    assert db.dsn not in (work / "plan.json").read_text() and db.dsn not in plan.stdout
    applied = run(["apply", "-f", "schema.yaml", "plan.json", "--allow-hazards", "table-lock"], work, env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    history = run(["history", "-f", "schema.yaml", "--limit", "1", "--format", "json"], work, env)
    assert history.returncode == 0
    import json
    rows = json.loads(history.stdout)
    assert rows[0]["status"] == "succeeded" and all(c["result"] == "done" for c in rows[0]["changes"])
    check = run(["check", "-f", "schema.yaml", "--format", "json"], work, env)
    assert check.returncode == 0 and json.loads(check.stdout)["in_sync"] is True
    db.execute("DROP INDEX idx_coalitions_high_performing")
    drift = run(["check", "-f", "schema.yaml"], work, env)
    assert drift.returncode == 2 and "idx_coalitions_high_performing" in drift.stdout
    assert run(["maintain", "-f", "schema.yaml", "--now", "2026-11-28T03:10:00Z"], work, env).returncode == 0
    stale = run(["apply", "-f", "schema.yaml", "plan.json"], work, env)
    assert stale.returncode == 1 and "changed since the saved plan" in stale.stderr
