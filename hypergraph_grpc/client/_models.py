"""What the client returns: results, stop outcomes, graph descriptions and typed events.

Plain frozen dataclasses with native values; building them from protobuf is
`_convert`'s job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypergraph_grpc.client._errors import RunFailedError

if TYPE_CHECKING:
    from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb

# --------------------------------------------------------------------------- results


class RunStatus(enum.StrEnum):
    """How a run ended (the proto's RunStatus without its prefix)."""

    UNSPECIFIED = "UNSPECIFIED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


@dataclass(frozen=True, slots=True)
class RunError:
    """The error that failed a run or a node: qualified type, message, node."""

    type: str
    message: str
    node: str = ""

    def __str__(self) -> str:
        where = f" (node {self.node})" if self.node else ""
        return f"{self.type}: {self.message}{where}"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one run, with native values. `result["text"]` reads `values`."""

    workflow_id: str
    run_id: str
    status: RunStatus
    values: dict[str, Any]
    error: RunError | None = None
    stop_info: dict[str, Any] | None = None
    forced: bool = False
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.status is RunStatus.COMPLETED

    @property
    def failed(self) -> bool:
        return self.status is RunStatus.FAILED

    @property
    def stopped(self) -> bool:
        return self.status is RunStatus.STOPPED

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def raise_on_failure(self) -> RunResult:
        """Raise RunFailedError if the run FAILED; else return self (for chaining)."""
        if self.failed:
            raise RunFailedError(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's --json output)."""
        return {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "status": self.status.value,
            "values": self.values,
            "error": None
            if self.error is None
            else {"type": self.error.type, "message": self.error.message, "node": self.error.node},
            "stop_info": self.stop_info,
            "forced": self.forced,
            "usage": self.usage,
        }


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """What Stop answered: `found` a live run, its `run_id`, its state after the request."""

    found: bool
    run_id: str
    state: str  # "STOPPING", "ENDED" or "UNSPECIFIED"

    def __bool__(self) -> bool:
        return self.found


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A live run as ListRuns shows it; `start_time` is seconds since the epoch."""

    workflow_id: str
    run_id: str
    graph: str
    owner: str  # the replica running it
    start_time: float
    state: str  # "RUNNING" or "STOPPING"


# ------------------------------------------------------------------------- graphs


@dataclass(frozen=True, slots=True)
class InputInfo:
    """One input of a graph; `default` is meaningful only when `has_default`."""

    name: str
    required: bool
    has_default: bool = False
    default: Any = None
    description: str = ""
    type: str = ""


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """One output of a graph and the node that produces it."""

    name: str
    node: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class GraphInfo:
    """One registered graph as ListGraphs describes it."""

    name: str
    description: str
    inputs: tuple[InputInfo, ...]
    outputs: tuple[OutputInfo, ...]
    nodes: tuple[str, ...]


# ------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """The envelope every event has. `time` is seconds since the epoch; `raw` is the protobuf."""

    workflow_id: str
    run_id: str
    seq: int
    time: float
    node: str
    span_id: str
    parent_span_id: str
    raw: pb.Event | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    graph: str
    # The token `iter(capability=...)` asked for ("" otherwise): send it as
    # 'authorization: Bearer <capability>' to watch/stop this run.
    capability: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SuperstepStarted(Event):
    superstep: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStarted(Event):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamingChunk(Event):
    """A chunk a node streamed: `chunk` is str (text), bytes (data) or a JSON-like value."""

    chunk: Any
    merged: int = 1

    @property
    def text(self) -> str:
        """The chunk if it is text, else ""."""
        return self.chunk if isinstance(self.chunk, str) else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEnded(Event):
    duration_ms: float
    usage: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFailed(Event):
    error: RunError


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteDecision(Event):
    decision: str
    end: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRequested(Event):
    info: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnded(Event):
    """The last event of every run; carries the `RunResult`."""

    result: RunResult
    duration_ms: float

    @property
    def status(self) -> RunStatus:
        return self.result.status


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsLost(Event):
    """Watch only, first event: the seqs `first_seq`..`last_seq` are no longer kept."""

    first_seq: int
    last_seq: int
