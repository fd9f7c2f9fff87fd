"""pgrecon: a declarative reconciler for PostgreSQL performance configuration.

Data flows one way: spec -> catalog -> diff -> plan -> render -> apply.
"""

__version__ = "0.1.0"
