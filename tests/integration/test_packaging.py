"""The package as users get it: a wheel that carries its templates, the demo from the README."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_templates_and_catalog_sql(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("pgrecon-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("reconciler/templates/indexes/create_index.sql.j2", "reconciler/templates/output/plan.txt.j2",
                   "reconciler/catalog/sql/indexes.sql", "reconciler/examples/freeagentics/schema.sql",
                   "reconciler/examples/schema.yaml"):
        assert needed in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = ("from reconciler.render import template_dir, render_statement; import sys; "
             "print(template_dir()); print(render_statement('indexes/drop_index', index=('public','x'), "
             "concurrently=True, if_exists=False))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    where, sql = run.stdout.splitlines()
    assert where.startswith(str(site)) and sql == "DROP INDEX CONCURRENTLY public.x"


def test_module_entry_point():
    run = subprocess.run([sys.executable, "-m", "reconciler", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and "plan" in run.stdout and "apply" in run.stdout


def test_demo_from_the_readme_converges(tmp_path):
    """`pgrecon demo` (small): embedded server, example data, plan, apply, empty plan."""
    data = tmp_path / "demo"
    try:
        run = subprocess.run([sys.executable, "-m", "reconciler", "demo", "--agents", "500", "--links", "1500",
                              "--data-dir", str(data)], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert run.returncode == 0, run.stdout + run.stderr
        out = run.stdout
        assert "index create idx_agents_active_status_perf on public.agents" in out
        assert out.count("In sync: nothing to do.") == 1 and out.rindex("In sync") > out.index("pgrecon apply")
        plan = subprocess.run([sys.executable, "-m", "reconciler", "plan", "--format", "json"],
                              capture_output=True, text=True, cwd=ROOT, timeout=120,
                              env={**__import__("os").environ, "DATABASE_URL": _dsn(data)})
        assert plan.returncode == 0, plan.stdout + plan.stderr
    finally:
        subprocess.run([sys.executable, "-m", "reconciler", "demo", "--stop", "--data-dir", str(data)],
                       capture_output=True, cwd=ROOT)


def _dsn(data: Path) -> str:
    from reconciler.commands.localserver import LocalServer
    return LocalServer.embedded(data).dsn("freeagentics")
