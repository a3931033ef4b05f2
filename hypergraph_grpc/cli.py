"""The `hypergraph-grpc` command: serve | graphs | run | stop (skeleton; see docs)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hypergraph-grpc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from hypergraph_grpc import server

    serve = sub.add_parser("serve", help="serve graphs over gRPC")
    server.add_serve_arguments(serve)
    serve.set_defaults(func=server.serve_from_args)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
