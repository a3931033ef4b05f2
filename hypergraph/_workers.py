"""The runner's own pool of daemon worker threads for sync nodes.

Daemon threads, so an abandoned node (a stop's grace ran out) never keeps the
interpreter from exiting, which the loop's default executor would. A thread is
started whenever no idle one is free (a blocked sync node never starves another
run); idle threads exit after ``IDLE_SECONDS``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["WorkerPool"]

IDLE_SECONDS = 30.0


class WorkerPool:
    """Runs ``job()`` callables on daemon threads, starting threads on demand."""

    def __init__(self, name: str = "hypergraph-worker") -> None:
        self._name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job and not yet claimed by a submit
        self._count = 0

    def submit(self, job: Callable[[], Callable[[], None] | None]) -> None:
        """Queue ``job``; start a thread for it when every thread is busy.

        ``job()`` runs on a worker and may return a ``deliver()`` callable: the
        thread counts itself idle *before* calling it, so whoever is woken by the
        delivery (the next superstep) finds this thread free for reuse.
        """
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                spawn = False
            else:
                self._count += 1
                spawn = True
                number = self._count
        self._jobs.put(job)
        if spawn:
            t = threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True)
            t.start()

    def _work(self) -> None:
        jobs = self._jobs
        while True:
            try:
                job = jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody claimed this thread: leave
                        self._idle -= 1
                        self._count -= 1
                        return
                continue  # a submit claimed this thread; its job is on the way
            deliver = job()  # jobs catch their own exceptions
            del job
            with self._lock:
                self._idle += 1
            if deliver is not None:
                deliver()
                del deliver
