"""``python -m reconciler`` runs the ``pgrecon`` command line."""

from reconciler.ui.cli import main

main()
