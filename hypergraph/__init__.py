"""hypergraph: a small workflow runtime of plain functions wired by name.

Build nodes with ``@node`` and gates with ``@route``, put them in a ``Graph``,
run it with ``AsyncRunner`` (``run``, ``iter``, ``stop``). Nodes may take a
``ctx: NodeContext`` to stream chunks and see stop requests. Standard library only.
See docs/runtime.md.
"""

from ._context import NodeContext
from ._errors import (
    GraphConfigError,
    HypergraphError,
    InfiniteLoopError,
    InvalidRouteError,
    MissingInputError,
    NodeOutputError,
    UnknownInputError,
    WorkflowAlreadyRunningError,
)
from ._events import (
    BaseEvent,
    Event,
    NodeEndEvent,
    NodeErrorEvent,
    NodeStartEvent,
    RouteDecisionEvent,
    RunEndEvent,
    RunStartEvent,
    StopRequestedEvent,
    StreamingChunkEvent,
    SuperstepStartEvent,
)
from ._graph import Graph, InputSpec
from ._iter import RunHandle
from ._nodes import END, FunctionNode, RouteNode, node, route
from ._processors import AsyncEventProcessor, EventProcessor, TypedEventProcessor
from ._result import RunResult, RunStatus
from ._run import error_type_name
from ._runner import AsyncRunner

__all__ = [
    # building
    "node",
    "route",
    "END",
    "Graph",
    "InputSpec",
    "FunctionNode",
    "RouteNode",
    # running
    "AsyncRunner",
    "RunResult",
    "RunStatus",
    "RunHandle",
    "NodeContext",
    # events
    "BaseEvent",
    "Event",
    "RunStartEvent",
    "SuperstepStartEvent",
    "NodeStartEvent",
    "StreamingChunkEvent",
    "NodeEndEvent",
    "NodeErrorEvent",
    "RouteDecisionEvent",
    "StopRequestedEvent",
    "RunEndEvent",
    # processors
    "EventProcessor",
    "AsyncEventProcessor",
    "TypedEventProcessor",
    "error_type_name",
    # errors
    "HypergraphError",
    "GraphConfigError",
    "MissingInputError",
    "UnknownInputError",
    "NodeOutputError",
    "InvalidRouteError",
    "InfiniteLoopError",
    "WorkflowAlreadyRunningError",
]
