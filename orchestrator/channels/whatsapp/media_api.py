"""The Graph API's media endpoints, with the client's retries (`GraphClient.retrying`):

- `media_info`: ``GET /{version}/{media-id}`` with the bearer token: a short-lived download URL, the
  mime type, the SHA-256 and the size of a customer's media (Meta's ids expire, so soon after arrival);
- `download`: ``GET <url>`` with the bearer token: the bytes, refused past `max_bytes` while reading;
- `upload`: ``POST /{version}/{phone-number-id}/media`` (multipart, ``messaging_product=whatsapp``):
  a file to send, answered with the media id a message then refers to.

Errors are the client's: `GraphAPIError` (Graph's code and title; an expired or unknown id is Graph
error 100, or a 404), `GraphTransportError`, and `MediaTooLarge` (never retried).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from orchestrator.channels.whatsapp.client import (
    GraphAPIError,
    GraphClient,
    GraphError,
    GraphTransportError,
    error_from_response,
)


class MediaTooLarge(GraphError):
    """The media is larger than this service accepts (`max_bytes`); `size` when it is known."""

    retryable = False

    def __init__(self, *, limit: int, size: int | None = None) -> None:
        self.limit, self.size = limit, size
        said = f"the file is {size} bytes" if size is not None else "the file is"
        super().__init__(f"{said}, over the limit of {limit} bytes")

    @property
    def for_people(self) -> str:
        size = f"the file is {human_size(self.size)}" if self.size is not None else "the file is"
        return f"{size}, over this service's limit of {human_size(self.limit)}"


def human_size(size: int) -> str:
    """A size as people read it: "16 MB", "1.5 GB", "12 KB", "500 bytes" (of 1,024, as phones count)."""
    if size >= 1_073_741_824:
        return f"{size / 1_073_741_824:.1f}".removesuffix(".0") + " GB"
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


@dataclass(frozen=True)
class MediaInfo:
    url: str
    mime_type: str | None
    sha256: str | None
    file_size: int | None


def _as_int(value: Any) -> int | None:
    # Graph sends the size as a string ("303833").
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


async def _json_request(
    client: GraphClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, Any]:
    """One Graph request: transport failures and error answers raised as the client's errors; the
    answer and its JSON body (None when it is not JSON)."""
    try:
        response = await client.http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise GraphTransportError(f"Graph request failed: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise error_from_response(response)
    try:
        return response, response.json()
    except ValueError:
        return response, None


async def media_info(client: GraphClient, media_id: str) -> MediaInfo:
    """The download URL and metadata of a media id (retried while transient)."""
    async for attempt in client.retrying():
        with attempt:
            response, body = await _json_request(client, "GET", f"/{client.api_version}/{media_id}")
            url = body.get("url") if isinstance(body, dict) else None
            if not isinstance(url, str) or not url:
                raise GraphAPIError(
                    code=None, title="media metadata without a url", http_status=response.status_code
                )
            assert isinstance(body, dict)
            mime, sha = body.get("mime_type"), body.get("sha256")
            return MediaInfo(
                url=url,
                mime_type=mime if isinstance(mime, str) else None,
                sha256=sha if isinstance(sha, str) else None,
                file_size=_as_int(body.get("file_size")),
            )
    raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover


async def download(client: GraphClient, url: str, *, max_bytes: int) -> tuple[bytes, str | None]:
    """The bytes at a media URL and the content type it was served with; `MediaTooLarge` as soon
    as the declared or the received size passes `max_bytes` (never read whole first)."""
    async for attempt in client.retrying():
        with attempt:
            try:
                async with client.http.stream("GET", url) as response:
                    if not response.is_success:
                        await response.aread()
                        raise error_from_response(response)
                    declared = _as_int(response.headers.get("content-length"))
                    if declared is not None and declared > max_bytes:
                        raise MediaTooLarge(limit=max_bytes, size=declared)
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > max_bytes:
                            raise MediaTooLarge(limit=max_bytes)
                    return bytes(data), response.headers.get("content-type")
            except httpx.TransportError as exc:
                raise GraphTransportError(f"Graph request failed: {type(exc).__name__}: {exc}") from exc
    raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover


async def upload(client: GraphClient, *, data: bytes, mime_type: str, filename: str) -> str:
    """Upload a file for this business number; returns the media id to send it with."""
    async for attempt in client.retrying():
        with attempt:
            response, body = await _json_request(
                client,
                "POST",
                f"/{client.api_version}/{client.phone_number_id}/media",
                data={"messaging_product": "whatsapp", "type": mime_type},
                files={"file": (filename, data, mime_type)},
            )
            media_id = body.get("id") if isinstance(body, dict) else None
            if not isinstance(media_id, str) or not media_id:
                raise GraphAPIError(
                    code=None,
                    title="upload answered without a media id",
                    http_status=response.status_code,
                    retryable=False,
                )
            return media_id
    raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover
