"""The advisor: slow statements, plans, index recommendations, redundant and unused indexes."""
