"""The baseline for bench_service.py: a bare grpc.aio server-streaming servicer.

It serves the same RunnerService contract, but Iter does no runtime work at all:
it yields one pre-built Event message per token (`values.count` of them; the
same envelope fields and size as the service's chunk messages), then one RunEnded. That is the ceiling for Python gRPC on this machine, the figure
every service timing is divided by. With `values.delay_ms` it sends a token
every delay_ms on a fixed schedule and stamps each message with the send time (for
the latency baseline); with `values.burst` it sends that many tokens per wake-up
(the capacity sweep's bursty mode), paced like the service's `tokens` graph.
With `values.idle_s` it sends RunStarted then waits (for the idle-stream RSS).

    python bench/baseline_server.py --port 0    # first stdout line: listening on HOST:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypergraph_grpc.admission import core_options  # noqa: E402
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb  # noqa: E402
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc  # noqa: E402

__all__ = ["BaselineServicer", "main"]


def _number(request: pb.IterRequest, name: str, default: float = 0.0) -> float:
    field = request.values.fields.get(name)
    return field.number_value if field is not None else default


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass


class BaselineServicer(pb_grpc.RunnerServiceServicer):
    """Iter yields pre-built messages; Stop ends a live baseline stream early."""

    def __init__(self) -> None:
        # The envelope the service sends with every chunk (ids, seq, time, node,
        # span ids; 109 bytes like the service's "t100 "), so both servers put the
        # same bytes on the wire and the client parses the same message.
        self._chunk = pb.Event(
            workflow_id="wf-0123456789ab",
            run_id="run-0123456789abc",
            seq=1000,
            node="count_tokens",
            span_id="0123456700000002",
            parent_span_id="0123456700000001",
            streaming_chunk=pb.StreamingChunk(text="t100 ", merged=1),
        )
        self._chunk.time.FromNanoseconds(time.time_ns())
        self._started = pb.Event(
            workflow_id="baseline", run_id="baseline", run_started=pb.RunStarted()
        )
        self._stops: dict[str, asyncio.Event] = {}

    async def Iter(self, request, context):  # noqa: N802 (gRPC method name)
        count = int(_number(request, "count"))
        delay = _number(request, "delay_ms") / 1000
        burst = max(1, int(_number(request, "burst", 1)))
        idle = _number(request, "idle_s")
        stop = self._stops.setdefault(request.workflow_id, asyncio.Event())
        try:
            yield self._started
            if idle:
                await _wait(stop, idle)
            elif delay:
                async for message in self._paced(count, delay, burst, stop):
                    yield message
            else:
                chunk = self._chunk
                for _ in range(count):
                    yield chunk
            status = pb.RUN_STATUS_STOPPED if stop.is_set() else pb.RUN_STATUS_COMPLETED
            yield pb.Event(run_ended=pb.RunEnded(result=pb.RunResult(status=status)))
        finally:
            self._stops.pop(request.workflow_id, None)

    async def _paced(self, count: int, delay: float, burst: int, stop: asyncio.Event):
        # On a fixed schedule, like the service's `tokens` graph: late wake-ups catch up.
        loop = asyncio.get_running_loop()
        due = loop.time()
        for i in range(count):
            if stop.is_set():
                return
            # The same envelope as the service's chunks, so the wire bytes match.
            message = pb.Event(
                workflow_id="wf-0123456789ab",
                run_id="run-0123456789abc",
                seq=i + 3,
                node="count_tokens",
                span_id="0123456700000002",
                parent_span_id="0123456700000001",
                streaming_chunk=pb.StreamingChunk(text=f"t{i} ", merged=1),
            )
            message.time.FromNanoseconds(time.time_ns())
            yield message
            if i % burst == burst - 1:
                due += delay
                await asyncio.sleep(max(0.0, due - loop.time()))

    async def Stop(self, request, context):  # noqa: N802
        stop = self._stops.get(request.workflow_id)
        if stop is not None:
            stop.set()
        return pb.StopResponse(found=stop is not None)

    async def ListGraphs(self, request, context):  # noqa: N802
        return pb.ListGraphsResponse(graphs=[pb.GraphInfo(name="baseline")])


async def serve(host: str, port: int) -> None:
    # The service's core pending-call limit, so neither server loses calls at a burst of starts.
    server = grpc.aio.server(options=core_options())
    pb_grpc.add_RunnerServiceServicer_to_server(BaselineServicer(), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    print(f"listening on {host}:{bound}", flush=True)
    await server.wait_for_termination()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="event loop (default asyncio's: what a bare servicer gets without choosing)",
    )
    args = parser.parse_args()
    try:
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(serve(args.host, args.port))
        else:
            asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
