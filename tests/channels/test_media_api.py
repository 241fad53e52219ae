"""The Graph media endpoints with the real GraphClient against the fake Graph API in-process:
metadata then bytes with the bearer, Graph's errors as `GraphAPIError`, the size cap, the upload."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from orchestrator.channels.whatsapp.client import GraphAPIError, GraphClient
from orchestrator.channels.whatsapp.media_api import MediaTooLarge, download, media_info, upload
from tests.fakes.graph import FakeGraphAPI, graph_error_body

PHOTO = b"\xff\xd8\xff" + bytes(range(256)) * 8


def _client(fake: FakeGraphAPI, token: str = "tok") -> GraphClient:
    return GraphClient(
        base_url="http://graph.test",
        phone_number_id="1122334455667",
        access_token=token,
        transport=httpx.ASGITransport(app=fake.app),
        backoff_scale=0.0,
    )


async def test_metadata_then_bytes_with_the_bearer() -> None:
    fake = FakeGraphAPI(access_token="tok")
    fake.add_media("65463453", PHOTO, "image/jpeg")
    async with _client(fake) as graph:
        info = await media_info(graph, "65463453")
        data, served_as = await download(graph, info.url, max_bytes=10_000)
    assert (info.mime_type, info.file_size, info.sha256) == (
        "image/jpeg",
        len(PHOTO),
        hashlib.sha256(PHOTO).hexdigest(),
    )
    assert (data, served_as) == (PHOTO, "image/jpeg")
    assert [(what, mid) for what, mid, _ in fake.media_requests] == [
        ("metadata", "65463453"),
        ("download", "65463453"),
    ]


async def test_wrong_token_unknown_id_and_a_scripted_failure_are_graph_errors() -> None:
    fake = FakeGraphAPI(access_token="tok")
    fake.add_media("1", PHOTO, "image/jpeg")
    async with _client(fake, token="stale") as graph:
        with pytest.raises(GraphAPIError) as expired_token:
            await media_info(graph, "1")
    assert expired_token.value.code == 190
    async with _client(fake) as graph:
        with pytest.raises(GraphAPIError) as unknown:
            await media_info(graph, "2")
        fake.fail_media("1", 404, "Not Found")
        with pytest.raises(GraphAPIError) as missing:
            await media_info(graph, "1")
        fake.fail_media("1", 500, graph_error_body(131000, "Something went wrong"), times=2)
        assert (await media_info(graph, "1")).file_size == len(PHOTO)  # transient: retried
    assert (unknown.value.code, unknown.value.retryable) == (100, False)
    assert "does not exist" in unknown.value.title
    assert (missing.value.http_status, missing.value.code) == (404, None)


async def test_a_download_over_the_limit_is_refused() -> None:
    fake = FakeGraphAPI()
    fake.add_media("big", PHOTO, "image/jpeg")
    async with _client(fake) as graph:
        info = await media_info(graph, "big")
        with pytest.raises(MediaTooLarge):
            await download(graph, info.url, max_bytes=len(PHOTO) - 1)


async def test_upload_is_multipart_and_answers_the_media_id() -> None:
    fake = FakeGraphAPI(access_token="tok")
    async with _client(fake) as graph:
        media_id = await upload(graph, data=PHOTO, mime_type="image/jpeg", filename="photo.jpg")
    [request] = fake.uploads
    assert media_id == request.media_id
    assert request.phone_number_id == "1122334455667"
    assert request.fields == {"messaging_product": "whatsapp", "type": "image/jpeg"}
    assert (request.filename, request.content_type, request.content) == ("photo.jpg", "image/jpeg", PHOTO)
    assert fake.media[media_id].content == PHOTO  # and Graph can serve it back
