"""Stop across replicas: requests published to the owner, acknowledged back.

A Stop for a run of another replica is published on the owner's stop channel;
the owner applies it to its run (:meth:`LocalRuns.stop`) and publishes the
outcome on the asker's ack channel. ``found`` is only ever reported from that
acknowledgement. An owner that nobody hears (no subscriber: it died) or that
does not answer within ``timeout_s`` gives :class:`CoordinationUnavailable`
with a retry hint, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from redis.exceptions import RedisError

from hypergraph_grpc.coordination import CoordinationUnavailable, StopOutcome, StopState
from hypergraph_grpc.coordination.local import LocalRuns
from hypergraph_grpc.coordination.redis_keys import RedisKeys

__all__ = ["StopRouter"]

log = logging.getLogger("hypergraph_grpc.coordination")

_RESUBSCRIBE_S = 0.5


class StopRouter:
    """This replica's side of routed stops: sends them, answers them, collects acks."""

    def __init__(
        self,
        client: Any,
        keys: RedisKeys,
        replica_id: str,
        local: LocalRuns,
        *,
        timeout_s: float,
        owner_gone_retry_s: float,
        on_stopping: Callable[[str], None],
        counted: Callable[[str], AbstractContextManager],
    ) -> None:
        """``counted(operation)``: a context that counts the Redis calls made in it."""
        self._client = client
        self._counted = counted
        self._keys = keys
        self._replica_id = replica_id
        self._local = local
        self._timeout_s = timeout_s
        self._owner_gone_retry_s = owner_gone_retry_s
        self._on_stopping = on_stopping
        self._acks: dict[str, asyncio.Future] = {}
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._closing = False

    async def route(
        self, owner: str, workflow_id: str, info: Any, grace: float | None
    ) -> StopOutcome:
        """Ask ``owner`` to stop its run of ``workflow_id``; its acknowledged outcome."""
        request_id = secrets.token_hex(8)
        waiter = asyncio.get_running_loop().create_future()
        self._acks[request_id] = waiter
        message = json.dumps(
            {
                "id": request_id,
                "workflow_id": workflow_id,
                "info": info,
                "grace": grace,
                "reply_to": self._replica_id,
            }
        )
        try:
            with self._counted("route_stop"):
                listeners = await self._client.publish(self._keys.stop_channel(owner), message)
            if not listeners:
                raise CoordinationUnavailable(
                    f"replica {owner!r} owns workflow {workflow_id!r} but is not listening "
                    "(it may have just died; its lease expires soon)",
                    self._owner_gone_retry_s,
                )
            try:
                ack = await asyncio.wait_for(waiter, self._timeout_s)
            except TimeoutError:
                raise CoordinationUnavailable(
                    f"replica {owner!r} owns workflow {workflow_id!r} but did not acknowledge "
                    f"the stop within {self._timeout_s:g}s",
                    self._timeout_s,
                ) from None
        finally:
            self._acks.pop(request_id, None)
        return StopOutcome(bool(ack["found"]), ack["run_id"], StopState[ack["state"]])

    async def listen(self) -> None:
        """Routed stops for this replica's runs, and acknowledgements of ours (a task)."""
        channels = (
            self._keys.stop_channel(self._replica_id),
            self._keys.ack_channel(self._replica_id),
        )
        stop_channel = channels[0].encode()
        # Not `while True`: the client may turn a cancellation in the middle of a
        # connect into a connection error, which the loop below would retry forever.
        while not self._closing:
            try:
                await self._pubsub.subscribe(*channels)
                async for message in self._pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    body = json.loads(message["data"])
                    if message["channel"] == stop_channel:
                        await self._answer(body)
                    else:
                        waiter = self._acks.get(body.get("id", ""))
                        if waiter is not None and not waiter.done():
                            waiter.set_result(body)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: resubscribe once it is back
                log.warning("stop channel lost; resubscribing", extra={"error": str(exc)})
                await asyncio.sleep(_RESUBSCRIBE_S)

    async def _answer(self, body: dict) -> None:
        workflow_id = body["workflow_id"]
        run = self._local.get(workflow_id)
        if run is None:
            outcome = StopOutcome(False, "", StopState.ENDED)
        else:
            outcome = self._local.stop(run, body.get("info"), body.get("grace"))
            if outcome.found:
                self._on_stopping(workflow_id)
        ack = {
            "id": body["id"],
            "found": outcome.found,
            "run_id": outcome.run_id,
            "state": outcome.state.name,
        }
        with contextlib.suppress(RedisError, OSError):
            await self._client.publish(self._keys.ack_channel(body["reply_to"]), json.dumps(ack))

    async def close(self, wait_s: float) -> None:
        """Stop listening (the listener task is cancelled by its owner)."""
        self._closing = True
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            await asyncio.wait_for(self._pubsub.aclose(), wait_s)
