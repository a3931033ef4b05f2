"""Run a fake provider in its own process: ``PYTHONPATH=tests python -m fakes``.

Prints ``listening on HOST:PORT`` first, then serves until killed. Control it
over HTTP (``/_fake/script``, ``/_fake/records``, ``/_fake/reset``); used by
bench/bench_llm.py so the fake does not share the measured process's CPU.
"""

from __future__ import annotations

import argparse
import signal
import threading

from .provider import FakeProvider


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fakes", description=__doc__)
    parser.add_argument("--kind", choices=["anthropic", "openai"], default="anthropic")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeProvider(args.kind, port=args.port).start()
    print(f"listening on {fake.host}:{fake.port}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    fake.stop()


if __name__ == "__main__":
    main()
