"""The service modules' public names are explicit (__all__) and pinned."""

from __future__ import annotations

import importlib

import pytest

PINNED = {
    "hypergraph_grpc.convert": {
        "EncodeError",
        "EventEncoder",
        "MAX_SAFE_INT",
        "MAX_VALUE_DEPTH",
        "clean_text",
        "error_info",
        "events_lost",
        "first_failing_node",
        "graph_info",
        "graph_list",
        "nesting_depth",
        "replica_lost_end",
        "run_response",
        "run_result",
        "run_summary",
        "stop_response",
        "struct_to_dict",
        "timestamp",
        "to_plain",
        "to_struct",
        "serialize_event",
        "value_to_python",
    },
    "hypergraph_grpc.values": {
        "MAX_SAFE_INT",
        "EncodeError",
        "struct_to_dict",
        "to_plain",
        "to_struct",
        "to_value",
        "type_name",
        "value_to_python",
    },
    "hypergraph_grpc.errors": {
        "DOMAIN",
        "MAX_VIOLATIONS",
        "ServiceError",
        "abort",
        "already_running",
        "coordination_unavailable",
        "draining",
        "first_violations",
        "graph_not_found",
        "internal",
        "invalid_input",
        "malformed_request",
        "overloaded",
        "permission_denied",
        "resource_exhausted",
        "to_status",
        "unauthenticated",
        "workflow_not_found",
    },
    "hypergraph_grpc.streams": {"RunHooks", "RunNotStarted", "StreamSink", "pump"},
    "hypergraph_grpc.service": {
        "ECHO_METADATA_KEY",
        "RunnerService",
        "SERVICE_NAME",
        "add_to_server",
        "echo_metadata",
    },
    "hypergraph_grpc.auth": {"AuthInterceptor", "AuthTokenError", "AuthTokens"},
    "hypergraph_grpc.interceptors": {
        "Behavior",
        "DecodeInterceptor",
        "InternalErrorInterceptor",
        "RunnerServiceInterceptor",
        "UndecodableRequest",
        "before_call",
    },
    "hypergraph_grpc.server": {"RunningServer", "start_server"},
    "hypergraph_grpc.serve": {"FALLBACK_GRAPHS", "load_default_graphs", "serve_from_args"},
    "hypergraph_grpc.workers": {"needs_shared_coordination", "run_workers"},
    "hypergraph_grpc.serve_args": {"DEFAULT_GRAPHS", "add_serve_arguments"},
    "hypergraph_grpc.logs": {"RateLimitedLog", "configure_logging"},
    "hypergraph_grpc.registry": {
        "GraphDescription",
        "GraphRegistry",
        "InputDescription",
        "OutputDescription",
        "RegistryError",
        "check_value",
        "describe",
        "load_spec",
        "load_specs",
    },
    "hypergraph_grpc.config": {"ServiceConfig"},
    "hypergraph_grpc.admission": {"Admission", "CORE_PENDING_CALLS", "core_options"},
    "hypergraph_grpc.coordination": {
        "Coordination",
        "CoordinationUnavailable",
        "EventFeed",
        "EventLogLimits",
        "LiveRun",
        "RunInfo",
        "StopOutcome",
        "StopReceiver",
        "StopState",
        "UnknownWorkflow",
        "WorkflowBusy",
        "make_coordination",
    },
    "hypergraph_grpc.coordination.memory": {"InMemoryCoordination", "default_replica_id"},
    "hypergraph_grpc.coordination.memory_log": {"MemoryEventFeed", "MemoryRunLog"},
    "hypergraph_grpc.coordination.recorder": {"RunLogWriter", "RunRecorder"},
    "hypergraph_grpc.coordination.local": {"LocalRuns"},
    "hypergraph_grpc.coordination.redis": {"RedisCoordination"},
    "hypergraph_grpc.coordination.redis_log": {
        "LogFlusher",
        "RedisEventFeed",
        "RedisRunLog",
        "append_end",
        "entry_seq",
        "last_seq",
    },
}


@pytest.mark.parametrize("module_name", sorted(PINNED))
def test_all_is_pinned_and_importable(module_name):
    module = importlib.import_module(module_name)
    assert set(module.__all__) == PINNED[module_name]
    for name in module.__all__:
        assert hasattr(module, name), name
