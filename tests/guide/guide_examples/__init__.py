"""The code examples of spec/streaming-guide.md, one module each, as written.

Each module creates its SDK client at import time (``client = Anthropic()``),
as the guide does, so tests import it (fresh) only after pointing
ANTHROPIC_BASE_URL / OPENAI_BASE_URL at a fake endpoint. Top-level ``await``
statements of the guide are wrapped in ``async def main()``; names the guide
leaves undefined (``embedder``, ``vector_db``, ``websocket``,
``send_to_client``, ``values``, ``workflow_id``) are small stand-ins marked
"not in the guide".
"""
