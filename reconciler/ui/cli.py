"""The ``pgrecon`` command line: thin commands that read options, call the library, and hand the
result to the output layer (:mod:`reconciler.output`) in a format the command declares.

Exit codes: 0 success / in sync; 2 ``plan`` and ``check``: changes pending; 1 error (bad spec,
no connection, refused, failed). Errors are printed as messages, never as tracebacks (set
``PGRECON_DEBUG=1`` to see one for an unexpected error). Modules a command needs are imported
when it runs, so that ``pgrecon plan`` does not pay for the advisor or the benchmark.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec

import typer

from reconciler.base.errors import PgreconError, SpecError
from reconciler.base.markup import controls_escaped, escape, plain
from reconciler.base.redaction import redact, remember_dsn
from reconciler.output import check_format, render_result

if TYPE_CHECKING:
    from reconciler.connect.targets import Target
    from reconciler.resources.document import Spec

P = ParamSpec("P")

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Declarative reconciler for PostgreSQL performance configuration.")

SpecFile = typer.Option(Path("schema.yaml"), "-f", "--file", help="the spec (schema.yaml)")
Dsn = typer.Option(None, "--dsn", help="libpq DSN (default: the spec's target.dsn, then PG* variables)")
Embedded = typer.Option(False, "--embedded", help="target the local demo server (started if needed)")
Now = typer.Option(None, "--now", help="pin 'now' (ISO 8601) for time-based decisions")
FleetFile = typer.Option(None, "--fleet", help="every target of this fleet file (fleet.yaml), one report")
Only = typer.Option(None, "--only", help="fleet: only these targets (NAME,NAME)")
Wave = typer.Option(None, "--wave", help="fleet: only this wave")
ReadOnly = typer.Option(False, "--read-only", help="plan in read-only transactions (as target.read_only: true)")
Patroni = typer.Option(None, "--patroni", help="the Patroni REST API of the target's cluster (default: the "
                                               "spec's target.patroni)")


def Format(default: str = "text") -> Any:
    return typer.Option(default, "--format", help="output format (each command lists its own)")


def _fail(message: str, code: int = 1) -> None:
    """Print ``message`` (redacted, control characters escaped, never read as markup) and exit."""
    message = controls_escaped(redact(message))
    if sys.stderr.isatty():
        from rich.console import Console
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}",
                                                                    markup=True)
    else:
        sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def command(name: str) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """A command: its ``--format`` checked against the output layer first, every error turned
    into a message and an exit code."""
    def decorate(fn: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                if "fmt" in kwargs:
                    check_format("fleet" if kwargs.get("fleet") else name, str(kwargs["fmt"]))
                fn(*args, **kwargs)
            except typer.Exit:
                raise
            except PgreconError as exc:
                _fail(redact(exc.message), exc.exit_code)
            except KeyboardInterrupt:
                _fail("interrupted")
            except Exception as exc:
                if _is_database_error(exc):
                    _fail(f"database error: {redact(str(exc).strip())}")
                if os.environ.get("PGRECON_DEBUG"):
                    raise
                _fail(f"internal error: {type(exc).__name__}: {redact(str(exc))} (set PGRECON_DEBUG=1 for a "
                      f"traceback)")
        return wrapper
    return decorate


def _is_database_error(exc: Exception) -> bool:
    """Whether ``exc`` is psycopg's (a command that never connects never imports psycopg)."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)


def _load_spec(file: Path) -> Spec:
    from reconciler.resources.document import load_spec
    return load_spec(file)


def _parse_now(now: str | None) -> datetime | None:
    if not now:
        return None
    try:
        value = datetime.fromisoformat(now)
    except ValueError:
        raise PgreconError(f"--now: not an ISO 8601 time: {now!r} (e.g. 2026-11-28T00:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _dsn(spec: Any, dsn: str | None, embedded: bool) -> str:
    from reconciler.connect.session import resolve_dsn
    remember_dsn(dsn)
    if embedded:
        from reconciler.commands.examples import embedded_dsn
        return embedded_dsn()
    spec_dsn = spec.secret(("target", "dsn"), spec.target.dsn) if spec and spec.target.dsn else None
    return resolve_dsn(dsn, spec_dsn)


def _target(spec: Any, dsn: str | None, embedded: bool, patroni: str | None = None, read_only: bool = False) -> Target:
    """The command's target: the DSN (flag, spec, PG* variables) and the cluster's Patroni API."""
    from reconciler.connect.targets import target_for
    return target_for(spec, _dsn(spec, dsn, embedded), patroni, read_only=read_only)


def _safe(text: str, fmt: str = "text") -> str:
    """Output at the edge: secrets redacted; control characters escaped except in a psql script
    (``--format sql``), which must stay exact (JSON and YAML escape them themselves)."""
    text = redact(text)
    return text if fmt == "sql" else controls_escaped(text)


def _write(path: Path, text: str, fmt: str = "text") -> None:
    """Write an output file whole (see :func:`reconciler.base.files.write_atomic`)."""
    from reconciler.base.files import write_atomic
    write_atomic(path, _safe(text, fmt))


def _emit(text: str, markup: bool = False, fmt: str = "text") -> None:
    """Write rendered output to stdout (see :func:`_safe`): rich markup rendered on a terminal
    (colors), dropped otherwise (without importing rich)."""
    text = _safe(text, fmt)
    if markup and sys.stdout.isatty():
        from reconciler.ui.console import out_console
        out_console().print(text, markup=True, highlight=False, end="")
        return
    sys.stdout.write(plain(text) if markup else text)
    sys.stdout.flush()


@app.command()
@command("plan")
def plan(file: Path = SpecFile, dsn: str | None = Dsn, embedded: bool = Embedded, now: str | None = Now,
         patroni: str | None = Patroni, read_only: bool = ReadOnly, fmt: str = Format(),
         out: Path | None = typer.Option(None, "--out", help="save the plan (JSON) for `apply FILE`"),
         fleet: Path | None = FleetFile, only: str | None = Only, wave: str | None = Wave) -> None:
    """Show what differs between the spec and the database. Exit 0 in sync, 2 changes pending."""
    from reconciler.engine.planner import make_plan
    if fleet:
        _fleet_plan("plan", fleet, only, wave, now, fmt)
    spec = _load_spec(file)
    target = _target(spec, dsn, embedded, patroni, read_only)
    with target.session() as conn:
        result = make_plan(conn, spec, now=_parse_now(now), fingerprint=bool(out) or fmt in ("json", "sql"),
                           target=target)
    if out:
        _write(out, result.to_json(), "json")
    _emit(render_result("plan", fmt, result, lock_timeout_ms=spec.target.lock_timeout,
                        build_timeout_ms=spec.target.build_timeout), markup=fmt == "text", fmt=fmt)
    raise typer.Exit(0 if result.empty else 2)


@app.command()
@command("apply")
def apply(planfile: Path | None = typer.Argument(None, help="a plan saved by `plan --out`"),
          file: Path = SpecFile, dsn: str | None = Dsn, embedded: bool = Embedded, now: str | None = Now,
          allow_hazards: str = typer.Option("", "--allow-hazards", help="hazards to allow: H1,H2 or all"),
          lock_timeout: str | None = typer.Option(None, "--lock-timeout", help="per statement, e.g. 5s"),
          lock_wait: str | None = typer.Option(None, "--lock-wait", help="wait for another apply, e.g. 60s"),
          restart: bool = typer.Option(False, "--restart", help="restart, through Patroni, the members waiting "
                                                               "for a restart (with --allow-hazards restart-required)"),
          patroni: str | None = Patroni, fmt: str = Format(),
          fleet: Path | None = FleetFile, only: str | None = Only, wave: str | None = Wave,
          continue_on_error: bool = typer.Option(False, "--continue-on-error",
                                                 help="fleet: start later waves even when a target failed"),
          skip_refused: bool = typer.Option(False, "--skip-refused",
                                            help="apply the allowed changes (and not those needing a refused one), "
                                                 "list the refused, exit 2")) -> None:
    """Apply the plan (or exactly the saved PLANFILE), then verify the database is in sync."""
    from reconciler.engine.apply import options_for, run_apply
    from reconciler.plan.models import Hazard, Plan
    from reconciler.ui.console import ConsoleReporter, err_console
    allowed = frozenset(h.strip() for h in allow_hazards.split(",") if h.strip())
    unknown = allowed - {h.value for h in Hazard} - {"all"}
    if unknown:
        raise PgreconError(f"--allow-hazards: unknown hazard {', '.join(sorted(unknown))} "
                           f"(known: {', '.join(h.value for h in Hazard)}, all)")
    if restart and not allowed & {"restart-required", "all"}:
        raise PgreconError("--restart restarts servers: allow it with --allow-hazards restart-required")
    if fleet:
        if planfile:
            raise PgreconError("a saved plan is for one database; apply --fleet plans each target itself")
        _fleet_apply(fleet, only, wave, now, fmt, allowed, restart, continue_on_error,
                     _duration("--lock-timeout", lock_timeout), _duration("--lock-wait", lock_wait))
    spec = _load_spec(file)
    saved = None
    if planfile:
        try:
            from reconciler.base.files import read_bounded
            saved = Plan.model_validate_json(read_bounded(planfile))
        except (OSError, ValueError) as exc:
            raise PgreconError(f"{planfile}: not a pgrecon plan file ({str(exc).splitlines()[0]})") from None
    options = options_for(spec.target, allowed, restart, _duration("--lock-timeout", lock_timeout),
                          _duration("--lock-wait", lock_wait), skip_refused)

    def show(plan: Any) -> None:
        if fmt == "text":
            err_console.print(_safe(render_result("plan", "text", plan)), markup=True, highlight=False, end="")

    result = run_apply(_target(spec, dsn, embedded, patroni), spec, saved, options, ConsoleReporter(),
                       now=_parse_now(now), on_plan=show)
    if fmt == "json":
        _emit(render_result("apply", fmt, result))
    if not result.in_sync and not result.in_sync_but_refused:
        left = "\n".join(f"  {c.title}: {c.reason}" for c in result.remaining.changes)
        raise PgreconError(f"applied {len(result.results)} changes, but the database is not in sync:\n{left}")
    if fmt == "text":
        _emit(render_result("apply", fmt, result))
    if result.refused:
        raise typer.Exit(2)


def _only(only: str | None) -> list[str] | None:
    return [n.strip() for n in only.split(",") if n.strip()] if only else None


def _fleet_plan(command_name: str, fleet_file: Path, only: str | None, wave: str | None, now: str | None,
                fmt: str) -> None:
    from reconciler.commands.fleet import load_fleet, plan_fleet
    from reconciler.ui.console import FleetProgress
    fleet = load_fleet(fleet_file)
    targets = fleet.select(_only(only), wave)
    with FleetProgress() as progress:
        run = plan_fleet(fleet, targets, _parse_now(now), progress, command_name)
    _emit(render_result("fleet", fmt, run), markup=fmt == "text")
    raise typer.Exit(run.exit_code)


def _duration(flag: str, text: str | None) -> int | None:
    from reconciler.base.units import parse_duration_ms
    if text is None:
        return None
    try:
        return parse_duration_ms(text)
    except ValueError as exc:
        raise PgreconError(f"{flag}: {exc}") from None


def _fleet_apply(fleet_file: Path, only: str | None, wave: str | None, now: str | None, fmt: str,
                 allowed: frozenset[str], restart: bool, continue_on_error: bool, lock_timeout_ms: int | None,
                 lock_wait_ms: int | None) -> None:
    from reconciler.commands.fleet import apply_fleet, load_fleet
    from reconciler.ui.console import FleetProgress
    fleet = load_fleet(fleet_file)
    targets = fleet.select(_only(only), wave)
    with FleetProgress() as progress:
        run = apply_fleet(fleet, targets, allowed, restart, lock_timeout_ms, lock_wait_ms, _parse_now(now),
                          continue_on_error, progress)
    _emit(render_result("fleet", fmt, run), markup=fmt == "text")
    raise typer.Exit(run.exit_code)


@app.command()
@command("check")
def check(file: Path = SpecFile, dsn: str | None = Dsn, embedded: bool = Embedded, now: str | None = Now,
          patroni: str | None = Patroni, read_only: bool = ReadOnly, fmt: str = Format(),
          fleet: Path | None = FleetFile, only: str | None = Only, wave: str | None = Wave) -> None:
    """Drift detection for a schedule: exit 0 in sync, 2 drift (with a summary), 1 error."""
    from reconciler.engine.planner import make_plan
    from reconciler.output.plans import Check
    if fleet:
        _fleet_plan("check", fleet, only, wave, now, fmt)
    spec = _load_spec(file)
    target = _target(spec, dsn, embedded, patroni, read_only)
    with target.session() as conn:
        result = make_plan(conn, spec, now=_parse_now(now), fingerprint=False, target=target)
    _emit(render_result("check", fmt, Check(result, str(file))))
    raise typer.Exit(0 if result.empty else 2)


@app.command()
@command("inspect")
def inspect(dsn: str | None = Dsn, embedded: bool = Embedded,
            tables: list[str] = typer.Option([], "--tables", help="schema.table globs (repeatable; default all)"),
            include: str | None = typer.Option(None, "--include", help="the kinds to export, comma-separated, "
                                                                        "e.g. indexes,partitions (default: all)"),
            pgbouncer_dsn: str | None = typer.Option(None, "--pgbouncer-dsn", help="admin console of a running "
                                                                                   "PgBouncer (for pgbouncer:)"),
            out: Path | None = typer.Option(None, "--out", help="write the spec here (default: stdout)"),
            merge: Path | None = typer.Option(None, "--merge", help="add what this spec lacks, keeping its "
                                                                    "comments and order"),
            fmt: str = Format("yaml")) -> None:
    """A spec describing the live database: `inspect` then `plan` is in sync."""
    from reconciler.commands.inspect import inspect_database, merge_into, parse_include
    from reconciler.connect.session import SessionPolicy, connect
    if out and merge:
        raise PgreconError("give --out or --merge, not both")
    sections = parse_include(include)
    remember_dsn(pgbouncer_dsn)
    with connect(_dsn(None, dsn, embedded), policy=SessionPolicy(read_only=True)) as conn:
        found = inspect_database(conn, tables, sections, pgbouncer_dsn)
    if merge:
        outcome = {"merged": str(merge), "added": merge_into(merge, found)}
        _emit(render_result("inspect", "json" if fmt == "json" else "text", outcome))
        return
    text = render_result("inspect", fmt, found)
    if out:
        _write(out, text, fmt)
        sys.stderr.write(f"wrote {out}\n")
    else:
        _emit(text, fmt=fmt)


def _review(spec: Any, file: Path, dsn: str | None, embedded: bool, fmt: str, out: Path | None, write: bool) -> None:
    from reconciler.commands.advise.review import review
    from reconciler.commands.advise.write import write_review
    from reconciler.connect.session import describe_dsn
    with _target(spec, dsn, embedded).session() as conn:
        reviews = review(conn, spec)
    extra = {"database": describe_dsn(_dsn(spec, dsn, embedded))} if fmt == "html" else {}
    text = render_result("review", fmt, reviews, **extra)
    if out is not None:
        _write(out, plain(text) if fmt == "text" else text, fmt)
        sys.stderr.write(f"wrote {out}\n")
    else:
        _emit(text, markup=fmt == "text", fmt=fmt)
    if write:
        for line in write_review(file, reviews):
            _emit(f"{file}: {line}\n")


@app.command()
@command("advise")
def advise(file: Path = SpecFile, dsn: str | None = Dsn, embedded: bool = Embedded, fmt: str = Format(),
           write: bool = typer.Option(False, "--write", help="add recommendations to the spec file"),
           analyze: bool = typer.Option(False, "--analyze", help="EXPLAIN ANALYZE SELECTs without parameters "
                                                                 "(rolled back, with a statement timeout)"),
           build_candidates: bool = typer.Option(
               False, "--build-candidates", help="verify indexes HypoPG cannot simulate (GIN, GiST, BRIN) by building "
                                                 "each for real in a transaction that is rolled back: each holds a "
                                                 "SHARE lock on its table (writes wait) while it builds"),
           out: Path | None = typer.Option(None, "--out", help="write the report to this file (html: one "
                                                                "self-contained page)"),
           strategy: str | None = typer.Option(None, "--strategy", help="exact (CP-SAT) or greedy: how the index "
                                                                        "set is chosen (default: advisor.strategy)"),
           review: bool = typer.Option(False, "--review", help="judge the advised indexes apply built: faster "
                                                               "statements, writes added (with --write: move those "
                                                               "that did not pay to drop_indexes)")
           ) -> None:
    """Slow statements, their plans, index recommendations, redundant and unused indexes, a report."""
    from reconciler.commands.advise.advisor import run_advise
    from reconciler.commands.advise.write import write_advice
    from reconciler.connect.session import describe_dsn
    spec = _load_spec(file)
    if strategy is not None:
        if strategy not in ("exact", "greedy"):
            raise PgreconError(f"--strategy must be exact or greedy, not {strategy!r}")
        spec = spec.model_copy(update={"advisor": spec.advisor.model_copy(update={"strategy": strategy})})
    target = _dsn(spec, dsn, embedded)
    if review:
        _review(spec, file, dsn, embedded, fmt, out, write)
        return
    with _target(spec, dsn, embedded).session() as conn:
        advice = run_advise(conn, spec, analyze=analyze, build_candidates=build_candidates,
                            on_build=lambda message: print(message, file=sys.stderr))
    extra = {"database": describe_dsn(target)} if fmt == "html" else {}
    text = render_result("advise", fmt, advice, **extra)
    if out is not None:
        _write(out, plain(text) if fmt == "text" else text, fmt)
        sys.stderr.write(f"wrote {out}\n")
    else:
        _emit(text, markup=fmt == "text", fmt=fmt)
    if write:
        for line in write_advice(file, advice):
            _emit(f"{file}: {line}\n")


@app.command()
@command("maintain")
def maintain(file: Path = SpecFile, dsn: str | None = Dsn, embedded: bool = Embedded, now: str | None = Now,
             dry_run: bool = typer.Option(False, "--dry-run", help="show what is due, run nothing"),
             force: bool = typer.Option(False, "--force", help="run even outside the schedule window"),
             fmt: str = Format()) -> None:
    """ANALYZE, VACUUM and REINDEX CONCURRENTLY what is due, inside the spec's maintenance window."""
    from reconciler.commands.maintain import run_maintain
    spec = _load_spec(file)
    if spec.maintenance is None:
        raise PgreconError(f"{file} has no maintenance: section (schedule, window, thresholds)")

    def log(action: Any) -> None:
        if fmt == "text":
            _emit(render_result("maintain-action", "text", action))

    run = run_maintain(_dsn(spec, dsn, embedded), spec, now=_parse_now(now), dry_run=dry_run, force=force,
                       lock_timeout_ms=spec.target.lock_timeout, on_action=log)
    _emit(render_result("maintain", fmt, run, dry_run=dry_run))


@app.command()
@command("bench")
def bench(agents: int = typer.Option(10_000, help="agents (the seed measured 10,000)"),
          links: int = typer.Option(50_000, help="agent-coalition links (the seed measured 50,000)"),
          scale: int = typer.Option(1, help="multiply agents and links (10, 100)"),
          repeat: int = typer.Option(21, help="runs per query figure (fewer for the heavy ones)"),
          embedded: bool = typer.Option(True, "--embedded/--no-embedded", help="a fresh local server"),
          dsn: str | None = typer.Option(None, "--dsn", help="measure on this server instead"),
          data_dir: Path = typer.Option(Path(".pgrecon/bench-runtime"), help="the local server's data"),
          file: Path = SpecFile, fmt: str = Format()) -> None:
    """Reproduce the seed's before/after table on this machine."""
    from reconciler.commands.benchmark import run_bench
    result = run_bench(agents * scale, links * scale, repeat, data_dir=data_dir, dsn=dsn if dsn else None,
                       spec_file=file, on_step=lambda t: sys.stderr.write(f"==> {t}\n"))
    _emit(render_result("bench", fmt, result))


@app.command("render")
@command("render")
def render_command(file: Path = SpecFile,
                   out_dir: Path = typer.Option(Path("."), "--out-dir", help="where pgbouncer/ and postgres/ go"),
                   check: bool = typer.Option(False, "--check", help="exit 1 when the files on disk are stale"),
                   fmt: str = Format()) -> None:
    """Write postgres/postgresql.conf, pgbouncer/pgbouncer.ini and pgbouncer/userlist.txt."""
    from reconciler.commands.render import render_files, stale, write
    from reconciler.resources.pgbouncer.checks import check_runtime, cross_check, offline_limits, target_release
    spec = _load_spec(file)
    check_runtime(spec)
    if spec.pgbouncer is not None:
        result = cross_check(spec.pgbouncer, offline_limits(spec), target_release(spec))
        if result.problems:
            raise SpecError([spec.source.problem(("pgbouncer", *p), m) for p, m in result.problems])
        for warning in result.warnings:
            sys.stderr.write(f"warning: {warning}\n")
    rendered = render_files(spec, out_dir, spec_file=str(file), secrets=not check)
    for warning in rendered.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    outcome: dict[str, Any] = {"spec_file": str(file), "check": check, "stale": [], "diffs": [], "written": []}
    if check:
        diffs = stale(out_dir, rendered.files)
        outcome["stale"], outcome["diffs"] = list(diffs), list(diffs.values())
        _emit(render_result("render", fmt, outcome))
        if diffs:
            raise PgreconError(f"{len(diffs)} rendered file(s) differ from the spec; run `pgrecon render -f {file}`")
        return
    outcome["written"] = [str(path) for path in write(out_dir, rendered.files)]
    _emit(render_result("render", fmt, outcome))


@app.command()
@command("history")
def history(file: Path = SpecFile, dsn: str | None = Dsn, embedded: bool = Embedded,
            limit: int = typer.Option(20, help="how many applies"), fmt: str = Format()) -> None:
    """The applies recorded in pgrecon.history, newest first."""
    from reconciler.engine.apply.history import read_history
    spec = _load_spec(file)
    with _target(spec, dsn, embedded).session() as conn:
        rows = read_history(conn, limit, spec.target.schema_owner)
    _emit(render_result("history", fmt, rows))


@app.command()
@command("grants")
def grants(file: Path = SpecFile, dsn: str | None = Dsn, embedded: bool = Embedded,
           role: str = typer.Option("pgrecon", "--role", help="the role pgrecon connects as"),
           fmt: str = Format("sql")) -> None:
    """The GRANT statements a role that is not a superuser needs for this spec (run them as one)."""
    from reconciler.commands.grants import needs
    spec = _load_spec(file)
    with _target(spec, dsn, embedded, read_only=True).session() as conn:
        found = needs(conn, spec, role)
    _emit(render_result("grants", fmt, found, spec_file=str(file)), fmt=fmt)


@app.command()
@command("validate")
def validate(file: Path = SpecFile, fmt: str = Format()) -> None:
    """Check the spec offline (no database): syntax, keys, types, SQL fragments, names."""
    spec = _load_spec(file)
    counts = {"file": str(file), "tables": len(spec.tables),
              "indexes": sum(len(t.indexes) for t in spec.tables.values()), "extensions": len(spec.extensions)}
    _emit(render_result("validate", fmt, counts))


@app.command()
@command("schema")
def schema(fmt: str = Format("json")) -> None:
    """Print the spec's JSON Schema (for editor completion and validation)."""
    from reconciler.resources.document import Spec
    data = Spec.model_json_schema(by_alias=True)
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["title"] = "pgrecon spec (schema.yaml)"
    _emit(render_result("schema", fmt, data))


@app.command()
@command("demo")
def demo(agents: int = typer.Option(10_000, help="agents to generate"),
         links: int = typer.Option(50_000, help="agent-coalition links to generate"),
         data_dir: Path = typer.Option(Path(".pgrecon/demo"), help="where the local server keeps its data"),
         file: Path = SpecFile,
         stop: bool = typer.Option(False, "--stop", help="stop the demo server and exit")) -> None:
    """The whole story on an embedded PostgreSQL: tables, data, plan, apply, empty plan."""
    from reconciler.ui.demo import run_demo, stop_demo
    if stop:
        stop_demo(data_dir)
        return
    run_demo(data_dir=data_dir, spec_file=file, agents=agents, links=links)


def main() -> None:
    """Console-script entry point."""
    from reconciler.base.redaction import remember_environment
    remember_environment()  # PGPASSWORD, which libpq may read
    try:
        app()
    finally:
        # The process is ending: its memory goes back whole. The interpreter's last full
        # collection would first walk every object still alive (about 0.04 s after planning
        # 10,000 indexes); frozen objects are not walked.
        gc.freeze()
