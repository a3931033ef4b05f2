"""Event processor base classes, and the table that routes events to their hooks.

A run turns its processors into a ``HookTable`` once, so dispatching one event is a
dict lookup and a loop over bound methods: hooks a ``TypedEventProcessor`` does
not override are never called at all.
"""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable
from typing import Any

from ._events import (
    EVENT_CLASSES,
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

__all__ = [
    "EventProcessor",
    "AsyncEventProcessor",
    "TypedEventProcessor",
    "HookTable",
    "NO_PROCESSORS",
    "logger",
]

logger = logging.getLogger("hypergraph")


class EventProcessor:
    """Receives every event of a run, synchronously, on the event loop thread."""

    def on_event(self, event: Any) -> None:
        """Handle one event. Keep it quick: it runs inline with ``ctx.stream()``."""

    def shutdown(self) -> None:
        """Called once per run, after the ``RunEndEvent`` was handled."""


class AsyncEventProcessor:
    """Receives every event of a run in order, through a per-run queue."""

    async def on_event_async(self, event: Any) -> None:
        """Handle one event; a slow handler never blocks the nodes."""

    async def shutdown_async(self) -> None:
        """Called once per run, after the ``RunEndEvent`` was handled."""


_HOOK_NAMES = {
    RunStartEvent: "on_run_start",
    SuperstepStartEvent: "on_superstep_start",
    NodeStartEvent: "on_node_start",
    StreamingChunkEvent: "on_streaming_chunk",
    RouteDecisionEvent: "on_route_decision",
    NodeEndEvent: "on_node_end",
    NodeErrorEvent: "on_node_error",
    StopRequestedEvent: "on_stop_requested",
    RunEndEvent: "on_run_end",
}


class TypedEventProcessor(EventProcessor):
    """An ``EventProcessor`` whose ``on_event`` calls one hook per event class.

    Override only the hooks you need; the others do nothing. Subclasses may
    define ``__init__`` without calling ``super().__init__()``.
    """

    def on_event(self, event: Any) -> None:
        name = _HOOK_NAMES.get(type(event))
        if name is not None:
            getattr(self, name)(event)

    def on_run_start(self, event: RunStartEvent) -> None:
        pass

    def on_superstep_start(self, event: SuperstepStartEvent) -> None:
        pass

    def on_node_start(self, event: NodeStartEvent) -> None:
        pass

    def on_streaming_chunk(self, event: StreamingChunkEvent) -> None:
        pass

    def on_route_decision(self, event: RouteDecisionEvent) -> None:
        pass

    def on_node_end(self, event: NodeEndEvent) -> None:
        pass

    def on_node_error(self, event: NodeErrorEvent) -> None:
        pass

    def on_stop_requested(self, event: StopRequestedEvent) -> None:
        pass

    def on_run_end(self, event: RunEndEvent) -> None:
        pass


def _typed_hooks(proc: TypedEventProcessor) -> dict[type, Callable]:
    """The hooks ``proc`` overrides, by event class (an overridden ``on_event`` wins)."""
    cls = type(proc)
    own = getattr(proc, "__dict__", {})  # hooks set on the instance count too
    if cls.on_event is not TypedEventProcessor.on_event or "on_event" in own:
        return dict.fromkeys(EVENT_CLASSES, proc.on_event)  # one bound method for all
    hooks = {}
    bound: dict[Any, Callable] = {}  # one bound method per function (aliased hooks share it)
    for ev, name in _HOOK_NAMES.items():
        if name in own:
            hooks[ev] = own[name]
            continue
        function = getattr(cls, name, None)
        if function is not getattr(TypedEventProcessor, name):
            hook = bound.get(function)
            if hook is None:
                hook = bound[function] = getattr(proc, name)
            hooks[ev] = hook
    return hooks


_SYNC_CHECKED: set[type] = set()  # classes whose hooks were checked once
# Functions of methods found to be plain functions: an instance hook that is another
# object's method (a recorder hooking its log's append) is checked once, not per run.
_SYNC_FUNCTIONS: weakref.WeakSet = weakref.WeakSet()
_HOOK_ATTRS = ("on_event", "shutdown", *_HOOK_NAMES.values())


def _check_not_async(proc: Any, hooks: dict[type, Callable]) -> None:
    """A sync processor's hook written ``async def`` would only make never-awaited
    coroutines: refuse it before the run starts, saying what to do instead."""
    cls = type(proc)
    own = getattr(proc, "__dict__", None) or {}
    if cls in _SYNC_CHECKED and not any(name in own for name in _HOOK_ATTRS):
        return
    for hook in (*hooks.values(), getattr(proc, "shutdown", None)):
        if hook is None:
            continue
        function = getattr(hook, "__func__", None)
        if function is not None and function in _SYNC_FUNCTIONS:
            continue
        if not inspect.iscoroutinefunction(hook):
            if function is not None:
                _SYNC_FUNCTIONS.add(function)
        else:
            name = getattr(hook, "__name__", "a hook")
            raise TypeError(
                f"event processor {cls.__qualname__} defines {name} with `async def`, but "
                f"{name} is called synchronously, so its coroutine would never run.\n"
                f"How to fix: make {name} a plain `def`, or subclass AsyncEventProcessor "
                "and implement `async def on_event_async(self, event)`."
            )
    _SYNC_CHECKED.add(cls)


def _is_async_processor(proc: Any) -> bool:
    return isinstance(proc, AsyncEventProcessor) or (
        not isinstance(proc, EventProcessor) and hasattr(proc, "on_event_async")
    )


class HookTable:
    """A run's processors, split into sync hooks by event class and async processors."""

    __slots__ = ("by_class", "sync_procs", "async_procs")

    def __init__(self, processors: list | tuple | None) -> None:
        self.by_class: dict[type, tuple[Callable, ...]] = {}
        self.sync_procs: list = []
        self.async_procs: list = []
        lists: dict[type, list[Callable]] = {ev: [] for ev in EVENT_CLASSES}
        for proc in processors or ():
            if _is_async_processor(proc):
                self.async_procs.append(proc)
                continue
            if not hasattr(proc, "on_event"):
                raise TypeError(
                    f"event processor {proc!r} has neither on_event nor on_event_async.\n"
                    "How to fix: subclass EventProcessor, TypedEventProcessor or AsyncEventProcessor."
                )
            self.sync_procs.append(proc)
            if isinstance(proc, TypedEventProcessor):
                hooks = _typed_hooks(proc)
            else:
                hooks = dict.fromkeys(EVENT_CLASSES, proc.on_event)
            _check_not_async(proc, hooks)
            for ev, hook in hooks.items():
                lists[ev].append(hook)
        # Equal hook lists share one tuple: a run's table is alive as long as its stream
        # is open, and every object in it is walked by each garbage collection.
        # (Keyed by identity: a hook need not be hashable.)
        shared: dict[tuple[int, ...], tuple[Callable, ...]] = {}
        for ev, hs in lists.items():
            key = tuple(map(id, hs))
            hooks_tuple = shared.get(key)
            if hooks_tuple is None:
                hooks_tuple = shared[key] = tuple(hs)
            self.by_class[ev] = hooks_tuple

    @property
    def empty(self) -> bool:
        return not self.sync_procs and not self.async_procs


NO_PROCESSORS = HookTable(None)


def log_processor_error(hook: Any, event: Any) -> None:
    """Log a processor failure: processor class, event type, traceback."""
    owner = getattr(hook, "__self__", hook)
    logger.exception(
        "event processor %s failed on %s (seq %s); the run continues",
        type(owner).__qualname__,
        type(event).__name__,
        getattr(event, "seq", "?"),
    )
