"""``python -m reconciler`` runs the ``pgrecon`` command line."""

from .cli import main

main()
