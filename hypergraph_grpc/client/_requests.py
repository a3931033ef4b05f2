"""The client's arguments as request messages, checked before anything is sent.

One builder per request: both clients call these, so the two can only differ in
how they wait (await or block), never in what they send. Values are encoded by
the shared value codec (`hypergraph_grpc.values`): one that cannot be encoded
raises `EncodeError` (a TypeError) naming where it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import duration_pb2

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.values import to_struct


def run_request(graph, values, workflow_id, select, max_iterations) -> pb.RunRequest:
    return pb.RunRequest(**_run_fields(graph, values, workflow_id, select, max_iterations))


def iter_request(
    graph,
    values,
    workflow_id,
    select,
    max_iterations,
    options: pb.StreamOptions,
    capability: Sequence[str] | None = None,
    capability_ttl: float | None = None,
) -> pb.IterRequest:
    fields = _run_fields(graph, values, workflow_id, select, max_iterations)
    request = pb.IterRequest(**fields, options=options)
    if capability:
        request.capability.scopes.extend(capability)
        if capability_ttl is not None:
            request.capability.ttl.CopyFrom(_duration(capability_ttl))
    return request


def _run_fields(graph, values, workflow_id, select, max_iterations) -> dict[str, Any]:
    """The fields RunRequest and IterRequest have in common."""
    return {
        "graph": graph,
        "values": to_struct(values),
        "workflow_id": workflow_id or "",
        "select": _select(select),
        "max_iterations": _count("max_iterations", max_iterations),
    }


def _count(name: str, value: int | None, bits: int = 32) -> int:
    """A proto unsigned count, checked here so the error names the argument
    (protobuf alone says only "Value out of range: -1")."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(
            f"{name}={value!r} is not a count the server accepts. How to fix: pass an int "
            f"from 0 to {(1 << bits) - 1} (0 or None = the server's default)."
        )
    return value


_VIEWS = {"full": pb.EVENT_VIEW_UNSPECIFIED, "text": pb.EVENT_VIEW_TEXT}


def stream_options(
    detach: bool,
    disable_merge: bool,
    max_queued_events: int | None = None,
    max_chunk_bytes: int | None = None,
    view: str = "full",
) -> pb.StreamOptions:
    if view not in _VIEWS:
        raise ValueError(
            f"view={view!r} is not a view the server knows. How to fix: pass view='full' "
            "(every event) or view='text' (text, node failures, stops and the end)."
        )
    # 0 is the proto's "server default" for both limits.
    return pb.StreamOptions(
        detach=detach,
        disable_merge=disable_merge,
        max_queued_events=_count("max_queued_events", max_queued_events),
        max_chunk_bytes=_count("max_chunk_bytes", max_chunk_bytes),
        view=_VIEWS[view],
    )


def watch_request(workflow_id: str, after_seq: int, disable_merge: bool) -> pb.WatchRequest:
    # A watcher never owns the run: leaving the stream must not stop it.
    options = stream_options(detach=True, disable_merge=disable_merge)
    after_seq = _count("after_seq", after_seq, bits=64)
    return pb.WatchRequest(workflow_id=workflow_id, after_seq=after_seq, options=options)


def list_runs_request(graph: str | None, page_size: int | None, token: str) -> pb.ListRunsRequest:
    return pb.ListRunsRequest(
        graph=graph or "", page_size=_count("page_size", page_size, bits=31), page_token=token
    )


def _select(select: Sequence[str] | str | None) -> list[str]:
    if select is None:
        return []
    return [select] if isinstance(select, str) else list(select)


def stop_request(
    workflow_id: str, info: Mapping[str, Any] | None, grace: float | None
) -> pb.StopRequest:
    request = pb.StopRequest(workflow_id=workflow_id)
    if info is not None:
        request.info.CopyFrom(to_struct(info, path="info"))
    if grace is not None:
        request.grace.CopyFrom(_duration(grace))
    return request


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(round(seconds * 1e9)))
    return duration
