"""Guide: "Consuming Streaming Events", both options (verbatim inside main functions).

`graph`, `runner` and `values` come from the basic example; `websocket` and
`send_to_client` are stand-ins (not in the guide).
"""

from hypergraph import StreamingChunkEvent, TypedEventProcessor

from .basic import graph, runner


# --- not in the guide: a list-backed websocket, a client sink, the run values ---
class _ListWebSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, data: str) -> None:
        self.sent.append(data)


websocket = _ListWebSocket()
sent_to_client: list[str] = []


def send_to_client(chunk: str) -> None:
    sent_to_client.append(chunk)


values = {"messages": [{"role": "user", "content": "Explain quantum computing"}]}
# --- end of stand-ins ---


# Option 1: Event processor (works with run())
class StreamToWebSocket(TypedEventProcessor):
    def on_streaming_chunk(self, event: StreamingChunkEvent):
        websocket.send(event.chunk)


async def option_1():
    result = await runner.run(graph, values, event_processors=[StreamToWebSocket()])
    return result


# Option 2: .iter() for interactive sessions (Phase 2)
async def option_2():
    async with runner.iter(graph, workflow_id="chat-1", **values) as handle:
        async for event in handle:
            match event:
                case StreamingChunkEvent(chunk=chunk):
                    send_to_client(chunk)
    return handle
