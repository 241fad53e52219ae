"""The API server's stop (`runtime.server.Server`, a real uvicorn server on a real socket): a request
that reaches a connection the server had accepted just before it began to stop is answered, not
reset."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn

from orchestrator.runtime.server import Server
from tests.fakes.servers import free_port


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_a_request_on_a_connection_accepted_just_before_the_stop_is_answered() -> None:
    port = free_port()
    config = uvicorn.Config(_app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    server = Server(config)
    serving = asyncio.create_task(server.serve(sockets=[config.bind_socket()]))
    while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag, no event)
        await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while not server.server_state.connections:  # noqa: ASYNC110 (accepted, nothing read yet)
        await asyncio.sleep(0.01)

    server.should_exit = True  # as SIGTERM or a reload does
    while server.servers[0].is_serving():  # noqa: ASYNC110 (the stop has begun)
        await asyncio.sleep(0)
    # uvicorn's own stop closes this idle connection in the same step as it stops accepting: the
    # request would meet a closed socket.
    writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await asyncio.wait_for(serving, timeout=10)

    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert answer.endswith(b"ok"), "answered in full, then the connection closed (the read ended)"
