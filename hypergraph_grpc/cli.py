"""The `hypergraph-grpc` command: serve graphs, list them, run one live, list live runs, stop one.

    hypergraph-grpc serve [--host H] [--port P] [--graphs pkg.mod:attr ...]
    hypergraph-grpc graphs [--target HOST:PORT] [--json]
    hypergraph-grpc run GRAPH [-i key=value ...] [--json-values JSON] [--provider P]
                        [--workflow-id ID] [--select NAME ...] [--events] [--json]
    hypergraph-grpc runs [--graph NAME] [--json]
    hypergraph-grpc stop WORKFLOW_ID [--info key=value ...] [--grace SECONDS]

`run` prints tokens as they arrive; Ctrl-C sends Stop(info={"kind": "user_stop"})
and prints the STOPPED result (Ctrl-C again abandons the stream). Exit codes:
0 completed, 1 failed (or stop found no run), 2 bad usage or a failed call,
3 stopped by someone else, 130 stopped by Ctrl-C, 141 stdout closed (`| head`:
the run is stopped). See docs/cli.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "main", "parse_assignments", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STOPPED_ELSEWHERE = 3
EXIT_INTERRUPTED = 130
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE  # what a shell shows for a Unix tool killed by SIGPIPE
# What the `server` extra installs: only `serve` needs it, the client commands never do.
SERVER_EXTRA_MODULES = ("grpc_health", "grpc_reflection")
TARGET_ENV = "HYPERGRAPH_TARGET"
TOKEN_ENV = "HYPERGRAPH_TOKEN"


# ------------------------------------------------------------------------ parsing


def parse_assignments(items: Sequence[str] | None, *, option: str = "-i") -> dict[str, Any]:
    """Parse ["key=value", ...]: a value that parses as JSON is JSON (42, true, [1]), else a string."""
    values: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(
                f"{option} {item!r} is not key=value; write e.g. {option} prompt=hello"
            )
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def _run_values(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.json_values:
        try:
            loaded = json.loads(args.json_values)
        except ValueError as err:
            raise ValueError(
                f"--json-values is not valid JSON ({err}): {args.json_values!r}"
            ) from None
        if not isinstance(loaded, dict):
            raise ValueError(f"--json-values must be a JSON object, got {args.json_values!r}")
        values.update(loaded)
    if args.provider:
        values["provider"] = args.provider
    values.update(parse_assignments(args.inputs))  # -i wins: it is the most specific
    return values


def _raw_texts(items: Sequence[str] | None) -> dict[str, str]:
    """The `-i` values as typed, before JSON parsing (for inputs declared `str`)."""
    return {key: raw for key, _, raw in (item.partition("=") for item in items or ())}


def _is_text_type(type_text: str) -> bool | None:
    """True for `str`, None for `str | None` / `Optional[str]`, False for anything else."""
    text = type_text.strip()
    if text.startswith("Optional[") and text.endswith("]"):
        text = f"{text[len('Optional[') : -1]} | None"
    parts = {part.strip() for part in text.split("|")}
    if parts == {"str"}:
        return True
    return None if parts == {"str", "None"} else False


async def _keep_text_inputs(client: Any, graph: str, values: dict, raw: dict[str, str]) -> dict:
    """Why: `-i prompt=42` parses as the number 42, which a `str` input refuses.
    For inputs the graph declares `str`, send the text as typed instead (one
    ListGraphs call, made only when some `-i` value parsed to a non-string)."""
    suspects = [k for k, text in raw.items() if not isinstance(values.get(k), str)]
    if not suspects:
        return values
    from hypergraph_grpc.client import HypergraphClientError

    try:
        graphs = await client.list_graphs(timeout=10)
    except HypergraphClientError:
        return values  # the Run call reports the real problem
    info = next((g for g in graphs if g.name == graph), None)
    types = {i.name: i.type for i in info.inputs} if info else {}
    fixed = dict(values)
    for key in suspects:
        text = _is_text_type(types.get(key, ""))
        if text or (text is None and values[key] is not None):
            fixed[key] = raw[key]
    return fixed


def _select(items: Sequence[str] | None) -> list[str] | None:
    names = [name for item in items or () for name in item.split(",") if name]
    return names or None


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default=os.environ.get(TARGET_ENV, "127.0.0.1:50051"),
        help=f"server address HOST:PORT (default: ${TARGET_ENV} or 127.0.0.1:50051)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="deadline of the call in seconds (default: none)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"send 'authorization: Bearer TOKEN' (default: ${TOKEN_ENV}; see serve --auth-token)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="connect over TLS, trusting the system's root CAs (implied by --tls-ca/--tls-cert)",
    )
    parser.add_argument("--tls-ca", metavar="PEM", help="connect over TLS, trusting this CA file")
    parser.add_argument(
        "--tls-cert", metavar="PEM", help="client certificate for mTLS servers (needs --tls-key)"
    )
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")


def _client_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else None
    kwargs: dict[str, Any] = {"timeout": args.timeout, "metadata": metadata}
    if args.tls or args.tls_ca or args.tls_cert or args.tls_key:
        from hypergraph_grpc.tls import TlsError, channel_credentials

        try:
            kwargs["credentials"] = channel_credentials(args.tls_ca, args.tls_cert, args.tls_key)
        except TlsError as exc:  # a --tls-* file that cannot be read
            _err(f"error: {exc}")
            raise SystemExit(EXIT_USAGE) from None
    return kwargs


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hypergraph-grpc",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub, argv)
    _add_graphs(sub)
    _add_run(sub)
    _add_runs(sub)
    _add_stop(sub)
    return parser


def _add_serve(sub: Any, argv: Sequence[str] | None) -> None:
    serve = sub.add_parser("serve", help="serve graphs over gRPC")
    # Why lazily: the server pulls in the runtime and the LLM SDKs; the client
    # commands should start fast and work without them.
    args = sys.argv[1:] if argv is None else list(argv)
    if "serve" in args:
        try:
            from hypergraph_grpc.serve import serve_from_args
            from hypergraph_grpc.serve_args import add_serve_arguments
        except ModuleNotFoundError as err:
            if (err.name or "").partition(".")[0] not in SERVER_EXTRA_MODULES:
                raise
            serve.error(
                f"serving needs the 'server' extra, which is not installed (no module "
                f"{err.name!r}). How to fix: pip install 'hypergraph-grpc[server]'"
            )
        add_serve_arguments(serve)
        # The raw arguments too: `--workers N` starts N processes with the same ones.
        serve.set_defaults(func=serve_from_args, argv=args[args.index("serve") + 1 :])


def _add_graphs(sub: Any) -> None:
    graphs = sub.add_parser("graphs", help="list the server's graphs with their inputs and outputs")
    _add_target(graphs)
    graphs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    graphs.set_defaults(func=cmd_graphs)


def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help="run a graph, printing its tokens live")
    run.add_argument("graph", help="the registered graph name (see `hypergraph-grpc graphs`)")
    run.add_argument(
        "-i",
        "--input",
        dest="inputs",
        action="append",
        metavar="KEY=VALUE",
        help="an input; VALUE is JSON when it parses (42, true, [1,2]) else a string; repeatable",
    )
    run.add_argument("--json-values", metavar="JSON", help="inputs as one JSON object")
    run.add_argument("--provider", help="shorthand for -i provider=PROVIDER")
    run.add_argument("--workflow-id", help="the workflow id (default: a new wf-<12 hex>)")
    run.add_argument(
        "--select",
        action="append",
        metavar="NAME",
        help="output names to return (repeatable or a,b)",
    )
    run.add_argument("--events", action="store_true", help="print every event, one per line")
    run.add_argument(
        "--json",
        action="store_true",
        help="machine output: the RunResult as JSON (with --events: one JSON object per event)",
    )
    _add_target(run)
    run.set_defaults(func=cmd_run)


def _add_runs(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list the live runs (of every replica in a cluster)")
    runs.add_argument("--graph", help="only runs of this graph")
    runs.add_argument("--json", action="store_true", help="one JSON object per run")
    _add_target(runs)
    runs.set_defaults(func=cmd_runs)


def _add_stop(sub: Any) -> None:
    stop = sub.add_parser("stop", help="stop a live workflow by id")
    stop.add_argument("workflow_id", help="the workflow to stop")
    stop.add_argument(
        "--info", action="append", metavar="KEY=VALUE", help="stop info (as -i); repeatable"
    )
    stop.add_argument(
        "--grace", type=float, metavar="SECONDS", help="cancel nodes still running after this"
    )
    _add_target(stop)
    stop.set_defaults(func=cmd_stop)


# ----------------------------------------------------------------------- output


def _err(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if dataclasses.is_dataclass(value):
        return _event_dict(value)
    raise TypeError(f"cannot print {type(value).__name__} as JSON")


def _event_dict(event: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        if f.name != "raw":
            value = getattr(event, f.name)
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else value
    return out


def _report_call_error(err: Any, args: argparse.Namespace) -> int:
    _err(f"error: {err}")
    if err.code.name == "UNAVAILABLE":
        _err(f"  is a server running at {args.target}? start one with `hypergraph-grpc serve`")
        if args.tls or args.tls_ca or args.tls_cert:
            _err(
                "  over TLS also check that its certificate names this host and comes from the "
                "CA you trust (--tls-ca), and whether it wants a client certificate (--tls-cert)"
            )
    return EXIT_USAGE


# ---------------------------------------------------------------------- commands


def cmd_graphs(args: argparse.Namespace) -> int:
    from hypergraph_grpc.client import Client, HypergraphClientError

    try:
        with Client(args.target, **_client_kwargs(args)) as client:
            graphs = client.list_graphs()
    except HypergraphClientError as err:
        return _report_call_error(err, args)
    if args.json:
        print(_dumps([dataclasses.asdict(g) for g in graphs]))
        return EXIT_OK
    rows = [("GRAPH", "INPUTS", "OUTPUTS", "DESCRIPTION")]
    rows += [
        (
            g.name,
            ", ".join(_input_text(i) for i in g.inputs) or "-",
            ", ".join(o.name for o in g.outputs) or "-",
            (g.description.strip().splitlines() or [""])[0],
        )
        for g in graphs
    ]
    widths = [max(len(row[col]) for row in rows) for col in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]).rstrip())
    return EXIT_OK


def _input_text(info: Any) -> str:
    text = f"{info.name}:{info.type}" if info.type else info.name
    if info.has_default:
        text += f"={_dumps(info.default)}"
    return text


def cmd_runs(args: argparse.Namespace) -> int:
    import time

    from hypergraph_grpc.client import Client, HypergraphClientError

    try:
        with Client(args.target, **_client_kwargs(args)) as client:
            runs = client.list_runs(graph=args.graph)
    except HypergraphClientError as err:
        return _report_call_error(err, args)
    if args.json:
        for run in runs:
            print(_dumps(dataclasses.asdict(run)))
        return EXIT_OK
    now = time.time()
    rows = [("WORKFLOW", "GRAPH", "STATE", "AGE", "OWNER", "RUN")]
    rows += [
        (r.workflow_id, r.graph, r.state, f"{max(0.0, now - r.start_time):.0f}s", r.owner, r.run_id)
        for r in runs
    ]
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return EXIT_OK


def cmd_stop(args: argparse.Namespace) -> int:
    from hypergraph_grpc.client import Client, HypergraphClientError

    try:
        info = parse_assignments(args.info, option="--info")
        with Client(args.target, **_client_kwargs(args)) as client:
            outcome = client.stop(args.workflow_id, info or None, grace=args.grace)
    except ValueError as err:
        _err(f"error: {err}")
        return EXIT_USAGE
    except HypergraphClientError as err:
        return _report_call_error(err, args)
    if not outcome.found:
        _err(f"no live run with workflow id {args.workflow_id!r} (unknown or already ended)")
        return EXIT_FAILED
    print(f"stopping workflow {args.workflow_id} (run {outcome.run_id}, state {outcome.state})")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    try:
        values = _run_values(args)
    except ValueError as err:
        _err(f"error: {err}")
        return EXIT_USAGE
    return asyncio.run(_RunCommand(args, values).main())


class _RunCommand:
    """One `run`: stream events, render them, turn Ctrl-C into a Stop."""

    def __init__(self, args: argparse.Namespace, values: dict[str, Any]) -> None:
        self.args = args
        self.values = values
        # Why our own id: Ctrl-C before the first event must still know what to stop.
        self.workflow_id = args.workflow_id or f"wf-{uuid.uuid4().hex[:12]}"
        self.user_stopped = False
        self.stream: Any = None
        self.printed_text = False
        self.last_char = "\n"
        self._tasks: set[asyncio.Task] = set()

    async def main(self) -> int:
        from hypergraph_grpc.client import AsyncClient, HypergraphClientError

        loop = asyncio.get_running_loop()
        async with AsyncClient(self.args.target, **_client_kwargs(self.args)) as client:
            self.client = client
            # Before the SIGINT handler: a Ctrl-C here has no run to stop yet.
            raw = _raw_texts(self.args.inputs)
            self.values = await _keep_text_inputs(client, self.args.graph, self.values, raw)
            loop.add_signal_handler(signal.SIGINT, self._on_sigint)
            try:
                self.stream = client.iter(
                    self.args.graph,
                    self.values,
                    workflow_id=self.workflow_id,
                    select=_select(self.args.select),
                )
                async for event in self.stream:
                    self._render(event)
            except HypergraphClientError as err:
                self._end_text_line()
                return _report_call_error(err, self.args)
            except TypeError as err:  # a value the wire format cannot hold
                _err(f"error: {err}")
                return EXIT_USAGE
            finally:
                loop.remove_signal_handler(signal.SIGINT)
        return self._finish(self.stream.result)

    def _on_sigint(self) -> None:
        if self.user_stopped or self.stream is None:
            _err("\nabandoning the stream (the server stops the run)")
            self.user_stopped = True
            if self.stream is not None:
                self.stream.cancel()
            return
        self.user_stopped = True
        _err(f"\nstopping workflow {self.workflow_id} (Ctrl-C again to abandon)")
        task = asyncio.get_running_loop().create_task(self._send_stop())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_stop(self) -> None:
        from hypergraph_grpc.client import HypergraphClientError

        try:
            await self.client.stop(self.workflow_id, {"kind": "user_stop"}, timeout=10)
        except HypergraphClientError as err:
            _err(f"stop failed: {err}")

    def _render(self, event: Any) -> None:
        from hypergraph_grpc.client import NodeFailed, StreamingChunk

        if self.args.events:
            self._render_event(event)
        elif self.args.json:
            return
        elif isinstance(event, StreamingChunk):
            self._write_chunk(event.chunk)
        elif isinstance(event, NodeFailed):
            self._end_text_line()
            _err(f"node {event.node} failed: {event.error.type}: {event.error.message}")

    def _render_event(self, event: Any) -> None:
        if self.args.json:
            print(_dumps(_event_dict(event)), flush=True)
            return
        fields = _event_dict(event)
        kind = fields.pop("type")
        for name in ("workflow_id", "run_id", "seq", "time", "node", "span_id", "parent_span_id"):
            fields.pop(name, None)
        node = f" {event.node}" if event.node else ""
        own = " ".join(f"{k}={_dumps(v)}" for k, v in fields.items())
        print(f"#{event.seq} {kind}{node} {own}".rstrip(), flush=True)

    def _write_chunk(self, chunk: Any) -> None:
        if isinstance(chunk, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        text = chunk if isinstance(chunk, str) else _dumps(chunk) + "\n"
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()  # live: every token shows as it arrives
            self.printed_text = True
            self.last_char = text[-1]

    def _end_text_line(self) -> None:
        if self.printed_text and self.last_char != "\n":
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.last_char = "\n"

    def _finish(self, result: Any) -> int:
        self._end_text_line()
        if result is None:  # the stream ended without RunEnded (abandoned)
            _err(f"ABANDONED workflow {self.workflow_id}")
            return EXIT_INTERRUPTED if self.user_stopped else EXIT_FAILED
        if self.args.json and not self.args.events:
            print(_dumps(result.to_dict()))
        elif not self.args.events and not self.printed_text:
            print(_dumps(result.values))  # nothing streamed: show the outputs
        _err(_summary(result))
        return _exit_code(result, self.user_stopped)


def _summary(result: Any) -> str:
    line = f"{result.status.value} workflow {result.workflow_id} run {result.run_id}"
    if result.error is not None:
        line += f": {result.error}"
    if result.stop_info is not None:
        line += f" stop_info={_dumps(result.stop_info)}"
    if result.forced:
        line += " (forced)"
    return line


def _exit_code(result: Any, user_stopped: bool) -> int:
    if result.completed:
        return EXIT_OK
    if result.stopped:
        return EXIT_INTERRUPTED if user_stopped else EXIT_STOPPED_ELSEWHERE
    return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # Whoever read stdout is gone (`| head`): end quietly, as Unix tools do. The
        # exception has already left the command's stream, and a run whose client is
        # gone is stopped by the server.
        _discard_stdout()
        return EXIT_OUTPUT_CLOSED
    except KeyboardInterrupt:
        # Ctrl-C outside `run`'s own handling (graphs, stop, connecting): nothing was
        # started that needs a Stop, so end quietly with the shell's interrupt code.
        _err("interrupted")
        return EXIT_INTERRUPTED


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
