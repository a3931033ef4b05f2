"""hypergraph: a small workflow runtime of plain functions wired by name (placeholder)."""
