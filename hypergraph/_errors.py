"""The runtime's exceptions: one base class, each also the matching builtin.

Every message names what is wrong and ends with a "How to fix:" line; the helper
``how_to_fix`` keeps that shape in one place.
"""

from __future__ import annotations

__all__ = [
    "HypergraphError",
    "GraphConfigError",
    "MissingInputError",
    "UnknownInputError",
    "NodeOutputError",
    "InvalidRouteError",
    "InfiniteLoopError",
    "WorkflowAlreadyRunningError",
    "how_to_fix",
]


class HypergraphError(Exception):
    """Base class of every error the runtime raises on its own account."""


class GraphConfigError(HypergraphError, ValueError):
    """``Graph(...)`` was given nodes that do not form a valid graph."""


class MissingInputError(HypergraphError, ValueError):
    """A run was started without one or more required graph inputs."""


class UnknownInputError(HypergraphError, ValueError):
    """A run was given an input name the graph does not accept."""


class NodeOutputError(HypergraphError, ValueError):
    """A node returned a value that does not match its ``output_name``."""


class InvalidRouteError(HypergraphError, ValueError):
    """A gate returned something that is not one of its declared targets."""


class InfiniteLoopError(HypergraphError, RuntimeError):
    """A node would run more often than the run's ``max_iterations`` allows."""


class WorkflowAlreadyRunningError(HypergraphError, RuntimeError):
    """A run was started with the ``workflow_id`` of a run that is still live."""


def how_to_fix(problem: str, fix: str) -> str:
    """Join a problem statement and its remedy in the house message shape."""
    return f"{problem}\nHow to fix: {fix}"
