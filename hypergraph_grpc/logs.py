"""Structured log lines on stderr, as text (``key=value`` extras) or one JSON object each.

The service logs with ``extra={...}`` fields (``workflow_id``, ``run_id``, ``graph``,
``status``...); the formatters here print them after the message. With tracing on,
``context_fields`` adds the current span's ``trace_id`` and ``span_id`` to lines
that do not name theirs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["RateLimitedLog", "configure_logging"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


ContextFields = Callable[[], dict[str, Any]]


class _ExtrasFormatter(logging.Formatter):
    """Reads a record's ``extra`` fields, plus the context's when the record has none."""

    def __init__(self, fmt: str | None = None, context_fields: ContextFields | None = None):
        super().__init__(fmt)
        self._context_fields = context_fields

    def extras(self, record: logging.LogRecord) -> dict[str, Any]:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if self._context_fields is not None and "trace_id" not in extras:
            extras.update(self._context_fields())
        return extras


class _TextFormatter(_ExtrasFormatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = self.extras(record)
        if extras:
            line += " " + " ".join(f"{k}={_short(v)}" for k, v in extras.items())
        return line


class _JsonFormatter(_ExtrasFormatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{k: _jsonable(v) for k, v in self.extras(record).items()},
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)
    return text if " " not in text else json.dumps(text, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


class RateLimitedLog:
    """At most one WARNING line per ``interval`` seconds; the next one printed says how many
    were left out (``suppressed``). For lines a caller can trigger at will, such as
    malformed requests, so a flood of them cannot flood the log."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._next = 0.0
        self._suppressed = 0

    def warning(self, message: str, **fields: Any) -> None:
        now = time.monotonic()
        if now < self._next:
            self._suppressed += 1
            return
        self._next = now + self._interval
        self._logger.warning(message, extra={**fields, "suppressed": self._suppressed})
        self._suppressed = 0


def configure_logging(
    level: str = "INFO",
    fmt: str = "text",
    stream: Any = None,
    context_fields: ContextFields | None = None,
) -> None:
    """Structured logs on stderr (stdout carries only ``listening on``).

    ``context_fields``: fields for lines that carry no ``trace_id`` of their own
    (the current span's ids, :func:`hypergraph_grpc.tracing.current_log_fields`)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        formatter: logging.Formatter = _JsonFormatter(context_fields=context_fields)
        formatter.converter = time.gmtime
    else:
        formatter = _TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", context_fields)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
