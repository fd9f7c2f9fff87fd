"""What tests and benchmarks need of pgrecon that pgrecon itself does not ship: servers tuned for
throwaway data, and fault injection.

``python -m dev.testing <pgrecon arguments>`` runs the command line with a pause point: the apply
stops before the first statement containing ``PGRECON_PAUSE_BEFORE``, says so in
``PGRECON_PAUSE_FILE`` and waits to be killed (the fault tests kill it there). It needs three
variables at once — the marker, the file and ``PGRECON_TEST_FAULT_INJECTION=pause-and-wait-to-be-killed``
— and lives outside the installed package, so nothing in production can pause.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

FAST_TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""Server settings for data nobody keeps: no fsync, no full-page writes."""

FAULT_SWITCH = "PGRECON_TEST_FAULT_INJECTION"
FAULT_SWITCH_VALUE = "pause-and-wait-to-be-killed"


def pause_point(sql_text: str) -> None:
    """Stop here (forever) if ``sql_text`` holds the marker and fault injection is switched on."""
    marker = os.environ.get("PGRECON_PAUSE_BEFORE")
    path = os.environ.get("PGRECON_PAUSE_FILE")
    if not marker or not path or os.environ.get(FAULT_SWITCH) != FAULT_SWITCH_VALUE or marker not in sql_text:
        return
    with open(path, "w") as fh:
        fh.write(sql_text)
    while True:
        time.sleep(3600)


def main() -> None:
    """The pgrecon command line, its executor pausing before each statement as :func:`pause_point` says."""
    from reconciler.engine.apply.executor import Executor
    from reconciler.ui.cli import main as cli

    run_statement = Executor.run_statement

    def pausing(self: Executor, change: Any, statement: Any) -> None:
        pause_point(statement.sql)
        run_statement(self, change, statement)

    Executor.run_statement = pausing  # type: ignore[method-assign]
    sys.argv[0] = "pgrecon"
    cli()


if __name__ == "__main__":
    main()
