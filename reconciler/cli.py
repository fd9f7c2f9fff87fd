"""The ``pgrecon`` command line: thin commands that read options and call the library.

Exit codes: 0 success / in sync; 2 ``plan``: changes pending; 1 error (bad spec, no connection,
refused, failed). Errors are printed as messages, never as tracebacks (set ``PGRECON_DEBUG=1``
to see one for an unexpected error).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import psycopg
import typer

from .connection import redact, resolve_dsn
from .errors import PgreconError
from .spec import load_spec

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Declarative reconciler for PostgreSQL performance configuration.")

SpecFile = typer.Option(Path("schema.yaml"), "-f", "--file", help="the spec (schema.yaml)")
Dsn = typer.Option(None, "--dsn", help="libpq DSN (default: the spec's target.dsn, then PG* variables)")
Embedded = typer.Option(False, "--embedded", help="target the local demo server (started if needed)")
Now = typer.Option(None, "--now", help="pin 'now' (ISO 8601) for time-based decisions")


def _fail(message: str, code: int = 1) -> None:
    from .console import err_console
    err_console.print(f"[bold red]error:[/] {message}" if sys.stderr.isatty() else f"error: {message}",
                      markup=sys.stderr.isatty(), highlight=False)
    raise typer.Exit(code)


def command(fn):
    """Run a command, turning every error into a message and an exit code."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except PgreconError as exc:
            _fail(redact(exc.message), exc.exit_code)
        except psycopg.Error as exc:
            _fail(f"database error: {redact(str(exc).strip())}")
        except KeyboardInterrupt:
            _fail("interrupted")
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("PGRECON_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {redact(str(exc))} (set PGRECON_DEBUG=1 for a traceback)")
    return wrapper


def _parse_now(now: str | None) -> datetime | None:
    if not now:
        return None
    try:
        value = datetime.fromisoformat(now)
    except ValueError:
        raise PgreconError(f"--now: not an ISO 8601 time: {now!r} (e.g. 2026-11-28T00:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _target(spec, dsn: str | None, embedded: bool) -> str:
    if embedded:
        from .demo import embedded_dsn
        return embedded_dsn()
    spec_dsn = spec.secret(("target", "dsn"), spec.target.dsn) if spec.target.dsn else None
    return resolve_dsn(dsn, spec_dsn)


def _print(text: str, markup: bool) -> None:
    from .console import out_console
    out_console().print(text, markup=markup, highlight=False, end="")


@app.command()
@command
def plan(file: Path = SpecFile, dsn: Optional[str] = Dsn, embedded: bool = Embedded, now: Optional[str] = Now,
         fmt: str = typer.Option("text", "--format", help="text | json | markdown | sql"),
         out: Optional[Path] = typer.Option(None, "--out", help="save the plan (JSON) for `apply FILE`")):
    """Show what differs between the spec and the database. Exit 0 in sync, 2 changes pending."""
    from .connection import connect
    from .plan import make_plan
    from .render.output import FORMATS, format_plan
    if fmt not in FORMATS:
        raise PgreconError(f"--format must be one of {', '.join(FORMATS)}")
    spec = load_spec(file)
    with connect(_target(spec, dsn, embedded)) as conn:
        result = make_plan(conn, spec, now=_parse_now(now), fingerprint=bool(out) or fmt in ("json", "sql"))
    if out:
        out.write_text(result.to_json())
    _print(format_plan(result, fmt, spec.target.lock_timeout, spec.target.build_timeout), markup=fmt == "text")
    raise typer.Exit(0 if result.empty else 2)


@app.command()
@command
def apply(planfile: Optional[Path] = typer.Argument(None, help="a plan saved by `plan --out`"),
          file: Path = SpecFile, dsn: Optional[str] = Dsn, embedded: bool = Embedded, now: Optional[str] = Now,
          allow_hazards: str = typer.Option("", "--allow-hazards", help="hazards to allow: H1,H2 or all"),
          lock_timeout: Optional[str] = typer.Option(None, "--lock-timeout", help="per statement, e.g. 5s"),
          lock_wait: Optional[str] = typer.Option(None, "--lock-wait", help="wait for another apply, e.g. 60s"),
          fmt: str = typer.Option("text", "--format", help="text | json")):
    """Apply the plan (or exactly the saved PLANFILE), then verify the database is in sync."""
    from .apply import ApplyOptions, run_apply
    from .console import ConsoleReporter, err_console
    from .plan.models import Hazard, Plan
    from .render.output import format_plan
    from .units import parse_duration_ms
    spec = load_spec(file)
    allowed = frozenset(h.strip() for h in allow_hazards.split(",") if h.strip())
    unknown = allowed - {h.value for h in Hazard} - {"all"}
    if unknown:
        raise PgreconError(f"--allow-hazards: unknown hazard {', '.join(sorted(unknown))} "
                           f"(known: {', '.join(h.value for h in Hazard)}, all)")
    saved = None
    if planfile:
        try:
            saved = Plan.model_validate_json(planfile.read_text())
        except (OSError, ValueError) as exc:
            raise PgreconError(f"{planfile}: not a pgrecon plan file ({str(exc).splitlines()[0]})") from None
    try:
        target = spec.target
        options = ApplyOptions(
            lock_timeout_ms=parse_duration_ms(lock_timeout) if lock_timeout else target.lock_timeout,
            lock_retries=target.lock_retries, statement_timeout_ms=target.statement_timeout,
            build_timeout_ms=target.build_timeout,
            lock_wait_ms=parse_duration_ms(lock_wait) if lock_wait else target.lock_wait,
            allow_hazards=allowed)
    except ValueError as exc:
        raise PgreconError(str(exc)) from None

    def show(plan):
        if fmt == "text":
            err_console.print(format_plan(plan, "text"), markup=True, highlight=False, end="")

    result = run_apply(_target(spec, dsn, embedded), spec, saved, options, ConsoleReporter(),
                       now=_parse_now(now), on_plan=show)
    if fmt == "json":
        print(json.dumps({"applied": [{"kind": r.change.kind, "action": r.change.action, "name": r.change.name,
                                       "table": r.change.table, "seconds": round(r.seconds, 3)}
                                      for r in result.results],
                          "in_sync": result.in_sync,
                          "waited_for_lock_s": round(result.waited_s, 3),
                          "remaining": [c.model_dump(mode="json") for c in result.remaining.changes]}, indent=2))
    if not result.in_sync:
        left = "\n".join(f"  {c.kind} {c.action} {c.name}: {c.reason}" for c in result.remaining.changes)
        raise PgreconError(f"applied {len(result.results)} changes, but the database is not in sync:\n{left}")
    if fmt == "text":
        if result.waited_s >= 1:
            _print(f"Waited {result.waited_s:.1f}s for another apply to finish.\n", markup=False)
        _print(f"Applied {len(result.results)} change{'s' if len(result.results) != 1 else ''}; "
               f"the database is in sync.\n", markup=False)


@app.command()
@command
def advise(file: Path = SpecFile, dsn: Optional[str] = Dsn, embedded: bool = Embedded,
           fmt: str = typer.Option("text", "--format", help="text | json | markdown"),
           write: bool = typer.Option(False, "--write", help="add recommendations to the spec file"),
           analyze: bool = typer.Option(False, "--analyze", help="EXPLAIN ANALYZE SELECTs without parameters "
                                                                 "(rolled back, with a statement timeout)")):
    """Slow statements, their plans, index recommendations, redundant and unused indexes, a report."""
    from .advise.advisor import run_advise
    from .connection import connect
    from .render import render as render_template
    if fmt not in ("text", "json", "markdown"):
        raise PgreconError("--format must be one of text, json, markdown")
    spec = load_spec(file)
    with connect(_target(spec, dsn, embedded)) as conn:
        advice = run_advise(conn, spec, analyze=analyze)
    data = advice.to_json()
    if fmt == "json":
        print(json.dumps(data, indent=2, default=str))
    else:
        template = "output/advise.txt.j2" if fmt == "text" else "output/advise.md.j2"
        _print(render_template(template, a=data, hypopg=advice.hypopg), markup=fmt == "text")
    if write:
        from .advise.write import write_advice
        for line in write_advice(file, advice):
            _print(f"{file}: {line}\n", markup=False)


@app.command()
@command
def maintain(file: Path = SpecFile, dsn: Optional[str] = Dsn, embedded: bool = Embedded, now: Optional[str] = Now,
             dry_run: bool = typer.Option(False, "--dry-run", help="show what is due, run nothing"),
             force: bool = typer.Option(False, "--force", help="run even outside the schedule window"),
             fmt: str = typer.Option("text", "--format", help="text | json")):
    """ANALYZE, VACUUM and REINDEX CONCURRENTLY what is due, inside the spec's maintenance window."""
    from .maintain import run_maintain
    spec = load_spec(file)
    if spec.maintenance is None:
        raise PgreconError(f"{file} has no maintenance: section (schedule, window, thresholds)")

    def log(action):
        if fmt == "text":
            _print(f"{action.kind} {action.target}: {action.reason}; before {action.before}, after {action.after} "
                   f"({action.seconds}s)\n", markup=False)

    run = run_maintain(_target(spec, dsn, embedded), spec, now=_parse_now(now), dry_run=dry_run, force=force,
                       lock_timeout_ms=spec.target.lock_timeout, on_action=log)
    if fmt == "json":
        print(json.dumps({"now": run.now.isoformat(), "window_open": run.window_open, "window": run.window,
                          "ran": run.ran, "actions": [a.__dict__ for a in run.actions]}, indent=2, default=str))
        return
    state = "open" if run.window_open else "closed"
    _print(f"maintenance window {run.window}: {state} at {run.now:%Y-%m-%d %H:%M %Z}\n", markup=False)
    if not run.ran:
        for action in run.actions:
            _print(f"due: {action.kind} {action.target}: {action.reason}\n    {action.sql}\n", markup=False)
        if run.actions and not dry_run and not run.window_open:
            _print("nothing was run: the window is closed (use --force to run now)\n", markup=False)
        if not run.actions:
            _print("nothing is due\n", markup=False)


@app.command()
@command
def bench(agents: int = typer.Option(10_000, help="agents (the seed measured 10,000)"),
          links: int = typer.Option(50_000, help="agent-coalition links (the seed measured 50,000)"),
          scale: int = typer.Option(1, help="multiply agents and links (10, 100)"),
          repeat: int = typer.Option(21, help="runs per query figure (fewer for the heavy ones)"),
          embedded: bool = typer.Option(True, "--embedded/--no-embedded", help="a fresh local server"),
          dsn: Optional[str] = typer.Option(None, "--dsn", help="measure on this server instead"),
          data_dir: Path = typer.Option(Path(".pgrecon/bench-runtime"), help="the local server's data"),
          file: Path = SpecFile,
          fmt: str = typer.Option("text", "--format", help="text | json")):
    """Reproduce the seed's before/after table on this machine."""
    from .benchmark import run_bench
    from .console import err_console
    from .render import render as render_template
    result = run_bench(agents * scale, links * scale, repeat, data_dir=data_dir, dsn=dsn if dsn else None,
                       spec_file=file, on_step=lambda t: err_console.print(f"==> {t}", markup=False, highlight=False))
    data = result.as_dict()
    if fmt == "json":
        print(json.dumps(data, indent=2))
    else:
        _print(render_template("output/bench.txt.j2", r=data), markup=False)


@app.command("render")
@command
def render_command(file: Path = SpecFile,
                   out_dir: Path = typer.Option(Path("."), "--out-dir", help="where pgbouncer/ and postgres/ go"),
                   check: bool = typer.Option(False, "--check", help="exit 1 when the files on disk are stale")):
    """Write postgres/postgresql.conf, pgbouncer/pgbouncer.ini and pgbouncer/userlist.txt."""
    from .console import err_console
    from .pgbouncer.checks import cross_check, offline_limits, target_release
    from .render.files import render_files, stale, write
    spec = load_spec(file)
    if spec.pgbouncer is not None:
        result = cross_check(spec.pgbouncer, offline_limits(spec), target_release(spec))
        if result.problems:
            from .errors import SpecError
            raise SpecError([spec.source.problem(("pgbouncer",) + p, m) for p, m in result.problems])
        for warning in result.warnings:
            err_console.print(f"warning: {warning}", markup=False, highlight=False)
    rendered = render_files(spec, out_dir, spec_file=str(file), secrets=not check)
    for warning in rendered.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False)
    if check:
        diffs = stale(out_dir, rendered.files)
        if diffs:
            _print("".join(diffs), markup=False)
            raise PgreconError(f"{len(diffs)} rendered file(s) differ from the spec; run `pgrecon render -f {file}`")
        _print(f"rendered files are up to date with {file}\n", markup=False)
        return
    for path in write(out_dir, rendered.files):
        _print(f"wrote {path}\n", markup=False)


@app.command()
@command
def check(file: Path = SpecFile, dsn: Optional[str] = Dsn, embedded: bool = Embedded, now: Optional[str] = Now,
          fmt: str = typer.Option("text", "--format", help="text | json")):
    """Drift detection for a schedule: exit 0 in sync, 2 drift (with a summary), 1 error."""
    from .connection import connect
    from .plan import make_plan
    from .render.output import summary
    spec = load_spec(file)
    with connect(_target(spec, dsn, embedded)) as conn:
        result = make_plan(conn, spec, now=_parse_now(now), fingerprint=False)
    drift = [{"kind": c.kind, "action": c.action, "name": c.name, "table": c.table, "reason": c.reason,
              "hazards": [h.value for h in c.hazards]} for c in result.changes]
    if fmt == "json":
        print(json.dumps({"in_sync": result.empty, "database": result.database, "checked_at": result.created_at.isoformat(),
                          "drift": drift, "summary": summary(result),
                          "notes": [n.model_dump() for n in result.notes]}, indent=2))
    elif result.empty:
        _print(f"in sync: {result.database} matches {file}\n", markup=False)
    else:
        lines = [f"drift: {result.database} differs from {file}: {len(drift)} change(s) ({summary(result)})"]
        lines += [f"  {d['kind']} {d['action']} {d['name']}{' on ' + d['table'] if d['table'] else ''}: {d['reason']}"
                  for d in drift]
        _print("\n".join(lines) + "\n", markup=False)
    raise typer.Exit(0 if result.empty else 2)


@app.command()
@command
def history(file: Path = SpecFile, dsn: Optional[str] = Dsn, embedded: bool = Embedded,
            limit: int = typer.Option(20, help="how many applies"),
            fmt: str = typer.Option("text", "--format", help="text | json")):
    """The applies recorded in pgrecon.history, newest first."""
    from .apply.history import read_history
    from .connection import connect
    spec = load_spec(file)
    with connect(_target(spec, dsn, embedded)) as conn:
        rows = read_history(conn, limit)
    if fmt == "json":
        print(json.dumps(rows or [], indent=2, default=str))
        return
    if not rows:
        _print("no applies recorded in this database yet\n", markup=False)
        return
    from .render import render as render_template
    _print(render_template("output/history.txt.j2", rows=rows), markup=False)


@app.command()
@command
def validate(file: Path = SpecFile):
    """Check the spec offline (no database): syntax, keys, types, SQL fragments, names."""
    spec = load_spec(file)
    count = sum(len(t.indexes) for t in spec.tables.values())
    _print(f"{file}: valid ({len(spec.tables)} tables, {count} indexes, {len(spec.extensions)} extensions)\n",
           markup=False)


@app.command()
@command
def schema():
    """Print the spec's JSON Schema (for editor completion and validation)."""
    from .spec.models import Spec
    data = Spec.model_json_schema(by_alias=True)
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["title"] = "pgrecon spec (schema.yaml)"
    print(json.dumps(data, indent=2))


@app.command()
@command
def demo(agents: int = typer.Option(10_000, help="agents to generate"),
         links: int = typer.Option(50_000, help="agent-coalition links to generate"),
         data_dir: Path = typer.Option(Path(".pgrecon/demo"), help="where the local server keeps its data"),
         file: Path = SpecFile,
         stop: bool = typer.Option(False, "--stop", help="stop the demo server and exit")):
    """The whole story on an embedded PostgreSQL: tables, data, plan, apply, empty plan."""
    from .demo import run_demo, stop_demo
    if stop:
        stop_demo(data_dir)
        return
    run_demo(data_dir=data_dir, spec_file=file, agents=agents, links=links)


def main() -> None:
    """Console-script entry point."""
    app()
