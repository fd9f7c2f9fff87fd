"""A FreeAgentics workload with pgbench, for proving that ``apply`` does not hurt the application.

``run_pgbench`` runs the custom script with several clients for a while and returns every
transaction's latency (from pgbench's per-transaction log) and the failures pgbench counted.
Used by ``bench/load_apply.py`` (figures for the README) and by a test (no failures).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = """\\set template random(1, 4)
SELECT id, name, last_active FROM agents WHERE status = 'active' ORDER BY last_active DESC NULLS LAST LIMIT 20;
SELECT count(*) FROM agents WHERE template = (ARRAY['explorer','merchant','scholar','guardian'])[:template] AND status = 'idle';
SELECT ac.agent_id, ac.role FROM agent_coalition ac WHERE ac.coalition_id = (SELECT id FROM coalitions TABLESAMPLE SYSTEM (5) LIMIT 1) ORDER BY ac.contribution_score DESC LIMIT 10;
UPDATE agents SET inference_count = inference_count + 1, last_active = now() WHERE id = (SELECT id FROM agents TABLESAMPLE SYSTEM (1) LIMIT 1);
INSERT INTO performance_metrics (agent_id, metric, value, recorded_at) VALUES (gen_random_uuid(), 'reward', random(), now());
"""


@dataclass
class PgbenchResult:
    latencies_ms: list[float]
    failed: int
    aborted_clients: int
    tps: float
    output: str
    finished_at: list[float] | None = None  # epoch seconds at which each transaction ended (same order)

    def between(self, start: float, end: float) -> PgbenchResult:
        """Only the transactions that ended between ``start`` and ``end`` (epoch seconds)."""
        pairs = [(t, lat) for t, lat in zip(self.finished_at or (), self.latencies_ms, strict=False)
                 if start <= t <= end]
        seconds = max(end - start, 1e-9)
        return PgbenchResult([lat for _, lat in pairs], self.failed, self.aborted_clients, len(pairs) / seconds,
                             self.output, [t for t, _ in pairs])

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(99)


def run_pgbench(pgbench: Path, host: str, port: int, dbname: str, seconds: int, clients: int = 4,
                user: str = "postgres", script: str = SCRIPT) -> PgbenchResult:
    """Run ``script`` for ``seconds`` with ``clients`` clients; collect latencies and failures."""
    with tempfile.TemporaryDirectory(prefix="pgrecon-pgbench-") as tmp:
        work = Path(tmp)
        (work / "freeagentics.sql").write_text(script)
        argv = [str(pgbench), "-n", "-h", host, "-p", str(port), "-U", user, "-c", str(clients),
                "-j", str(min(clients, 2)), "-T", str(seconds), "-f", str(work / "freeagentics.sql"),
                "-l", "--log-prefix", str(work / "log"), dbname]
        run = subprocess.run(argv, capture_output=True, text=True, cwd=work)
        latencies, finished = [], []
        for log in work.glob("log*"):
            for line in log.read_text().splitlines():
                parts = line.split()  # client transaction latency_us script epoch_s epoch_us
                if len(parts) >= 6 and parts[2].isdigit():
                    latencies.append(int(parts[2]) / 1000)
                    finished.append(int(parts[4]) + int(parts[5]) / 1e6)
    output = run.stdout + run.stderr
    failed = re.search(r"number of failed transactions: (\d+)", output)
    tps = re.search(r"tps = ([\d.]+)", output)
    aborted = len(re.findall(r"client \d+ (?:script \d+ )?aborted", output))
    return PgbenchResult(latencies, int(failed.group(1)) if failed else (0 if run.returncode == 0 else -1),
                         aborted, float(tps.group(1)) if tps else 0.0, output, finished)
