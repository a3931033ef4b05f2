"""Cheap unique ids for runs, spans and workflows.

A span id costs one counter step and one format: a random per-process prefix
keeps ids from different processes apart without paying for ``uuid4`` per span.
"""

from __future__ import annotations

import itertools
import os
import random

__all__ = ["new_span_id", "new_run_id", "new_workflow_id"]

_PREFIX = os.urandom(4).hex()
_RUN_PREFIX = os.urandom(6).hex()
_span_counter = itertools.count(1)
_run_counter = itertools.count(1)


def new_span_id() -> str:
    """16 hex digits, unique within the process and very likely across processes."""
    return f"{_PREFIX}{next(_span_counter) & 0xFFFFFFFF:08x}"


def new_run_id() -> str:
    """``run-`` + 12 random hex digits of this process + a counter."""
    return f"run-{_RUN_PREFIX}{next(_run_counter):x}"


_random = random.Random(os.urandom(16))
# A forked child must not repeat its parent's ids.
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(16)))


def new_workflow_id() -> str:
    """``wf-`` + 12 random hex digits (random, so ids from many servers do not clash)."""
    return f"wf-{_random.getrandbits(48):012x}"
