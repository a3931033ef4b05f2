"""``RunResult`` and ``RunStatus``: what a finished run returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunStatus", "RunResult"]


class RunStatus(enum.Enum):
    """How a run ended: the first terminal cause decides (see docs/runtime.md)."""

    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"

    def __repr__(self) -> str:
        return f"RunStatus.{self.name}"


_MISSING = object()


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one run. ``result["k"]``, ``"k" in result`` and ``get`` read ``values``."""

    values: dict
    status: RunStatus
    workflow_id: str
    run_id: str
    error: BaseException | None = None
    stop_info: Any = None
    forced: bool = False
    usage: dict = field(default_factory=dict)

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
        try:
            return self.values[name]
        except KeyError:
            raise KeyError(
                f"{name!r} is not in this run's values (it has: {sorted(self.values)}); "
                "the node producing it did not run, or `select` left it out.\nHow to fix: "
                f"use result.get({name!r}) when it may be missing, or check result.status"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)
