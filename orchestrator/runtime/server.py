"""uvicorn's server, with a stop that does not reset connections it has just accepted.

uvicorn stops by closing its listening sockets and, at once, closing every connection that has no
request under way. A connection accepted in the loop's last pass before the stop has its request
in the kernel's buffer, not yet read: closing it with unread data sends the client a reset, and
the request is lost to it (Meta delivers the webhook again later; a rep's browser shows an error).
Here the server stops accepting first, gives the connections it has accepted a moment to be read,
and only then stops as uvicorn does: those requests are answered, then their connections closed.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn

# Enough for a request already in the kernel's buffer to be read by the loop (one pass or a few);
# every stop of an API process takes this much longer.
READ_ACCEPTED_S = 0.1


class Server(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in getattr(self, "servers", []):  # none if the start failed before listening
            server.close()
        await asyncio.sleep(READ_ACCEPTED_S)
        await super().shutdown(sockets=sockets)
