"""Give a demo graph a one-line description for ListGraphs."""

from __future__ import annotations

__all__ = ["described"]


def described(graph, text: str):
    """Attach `text` as ``graph.description`` (read by the registry) when the Graph allows it."""
    try:
        graph.description = text
    except (AttributeError, TypeError):
        try:
            object.__setattr__(
                graph, "description", text
            )  # a frozen Graph: still a plain attribute
        except (AttributeError, TypeError):
            pass  # the registry then joins the nodes' docstrings
    return graph
