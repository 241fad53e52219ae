"""GraphClient over real HTTP against the fake Graph API: parsing, retries, give-up, no-retry codes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from orchestrator.channels.whatsapp.client import (
    GraphAPIError,
    GraphClient,
    GraphError,
    GraphSendUncertain,
    GraphTransportError,
    backoff_seconds,
)
from orchestrator.channels.whatsapp.outbound import text_message
from tests.fakes.graph import FakeGraphAPI, graph_error_body
from tests.fakes.servers import free_port, serve_in_thread
from tests.fixtures import load_fixture

TOKEN = "test-access-token"
PHONE_NUMBER_ID = "1122334455667"
PAYLOAD = text_message("16505551234", "Hello from the bot")


class SleepRecorder:
    """Stands in for asyncio.sleep: records the backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class SwitchableApp:
    """One ASGI server for the module; each test plugs in a fresh FakeGraphAPI (saves a restart each)."""

    def __init__(self) -> None:
        self.target = FakeGraphAPI(access_token=TOKEN)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SwitchableApp, str]]:
    switch = SwitchableApp()
    with serve_in_thread(switch) as url:
        yield switch, url


@pytest.fixture
def fake(server: tuple[SwitchableApp, str]) -> FakeGraphAPI:
    server[0].target = FakeGraphAPI(access_token=TOKEN)
    return server[0].target


@pytest.fixture
def base_url(server: tuple[SwitchableApp, str], fake: FakeGraphAPI) -> str:
    return server[1]


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def _client(base_url: str, sleeps: SleepRecorder, **overrides: Any) -> GraphClient:
    options: dict[str, Any] = {
        "base_url": base_url,
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": TOKEN,
        "sleep": sleeps,
        "timeout": 5.0,
    }
    options.update(overrides)
    return GraphClient(**options)


@pytest.fixture
async def client(base_url: str, sleeps: SleepRecorder) -> AsyncIterator[GraphClient]:
    async with _client(base_url, sleeps) as graph:
        yield graph


async def test_send_posts_payload_to_versioned_path_with_bearer_token(
    client: GraphClient, fake: FakeGraphAPI
) -> None:
    result = await client.send(PAYLOAD)

    [request] = fake.sent
    assert request["path"] == f"/v25.0/{PHONE_NUMBER_ID}/messages"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["content-type"] == "application/json"
    assert request["json"] == PAYLOAD
    assert result.wa_message_id == request["wa_message_id"]
    assert result.wa_message_id.startswith("wamid.")
    assert result.wa_id == "16505551234"
    assert result.attempts == 1


async def test_api_version_is_configurable(base_url: str, sleeps: SleepRecorder, fake: FakeGraphAPI) -> None:
    async with _client(base_url, sleeps, api_version="v24.0") as graph:
        await graph.send(PAYLOAD)
    assert fake.sent[0]["path"] == f"/v24.0/{PHONE_NUMBER_ID}/messages"


@pytest.mark.parametrize("name", ["send_success_response.json", "send_success_response_nodejs_sdk.json"])
async def test_documented_success_response_is_parsed(
    client: GraphClient, fake: FakeGraphAPI, name: str
) -> None:
    documented = load_fixture(name)
    fake.respond_next(200, documented)

    result = await client.send(PAYLOAD)

    assert result.wa_message_id == documented["messages"][0]["id"]
    assert result.wa_id == documented["contacts"][0]["wa_id"]
    assert result.message_status is None
    assert result.raw == documented


async def test_throughput_limit_130429_is_retried_then_succeeds(
    client: GraphClient, fake: FakeGraphAPI, sleeps: SleepRecorder
) -> None:
    fake.fail_next(400, load_fixture("error_130429_response.json"), times=2)

    result = await client.send(PAYLOAD)

    assert result.attempts == 3
    assert len(fake.requests) == 3
    assert [r["wa_message_id"] for r in fake.sent] == [result.wa_message_id]
    assert sleeps.waits == [1.0, 2.0]


async def test_pair_rate_limit_131056_backs_off_four_to_the_x_capped(
    base_url: str, fake: FakeGraphAPI, sleeps: SleepRecorder
) -> None:
    pair_limit = graph_error_body(131056, "(Business Account, Consumer Account) pair rate limit hit")
    fake.fail_next(400, pair_limit, times=4)

    async with _client(base_url, sleeps, max_attempts=5, max_backoff_s=10.0) as graph:
        result = await graph.send(PAYLOAD)

    assert result.attempts == 5
    assert sleeps.waits == [1.0, 4.0, 10.0, 10.0]


async def test_backoff_scale_shrinks_waits_for_tests(
    base_url: str, fake: FakeGraphAPI, sleeps: SleepRecorder
) -> None:
    fake.fail_next(400, graph_error_body(131056, "pair rate limit hit"), times=2)
    async with _client(base_url, sleeps, backoff_scale=0.001) as graph:
        await graph.send(PAYLOAD)
    assert sleeps.waits == pytest.approx([0.001, 0.004])


async def test_gives_up_after_max_attempts_and_raises_the_last_error(
    base_url: str, fake: FakeGraphAPI, sleeps: SleepRecorder
) -> None:
    fake.fail_next(400, load_fixture("error_130429_response.json"), times=10)

    async with _client(base_url, sleeps, max_attempts=3) as graph:
        with pytest.raises(GraphAPIError) as caught:
            await graph.send(PAYLOAD)

    error = caught.value
    assert (error.code, error.http_status, error.retryable) == (130429, 400, True)
    assert error.title == "Rate limit hit"
    assert error.details == "Cloud API message throughput has been reached."
    assert error.fbtrace_id == "Az8or2yhqkZfEZ-_4Qn_Bam"
    assert "130429" in str(error)
    assert len(fake.requests) == 3
    assert fake.sent == []


async def test_each_retry_is_logged_with_its_attempt_number_and_wait(
    base_url: str, fake: FakeGraphAPI, sleeps: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(400, load_fixture("error_130429_response.json"), times=10)

    with caplog.at_level("WARNING", logger="orchestrator.channels.whatsapp.client"):
        async with _client(base_url, sleeps, max_attempts=3) as graph:
            with pytest.raises(GraphAPIError):
                await graph.send(PAYLOAD)

    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert [line.split(" failed")[0] for line in retries] == [
        "whatsapp send attempt 1/3",
        "whatsapp send attempt 2/3",
    ]
    assert [line.rsplit(" ", 1)[-1] for line in retries] == ["1.00s", "2.00s"]


async def test_a_send_that_never_retries_makes_one_attempt(
    base_url: str, fake: FakeGraphAPI, sleeps: SleepRecorder
) -> None:
    fake.fail_next(400, load_fixture("error_130429_response.json"), times=1)

    async with _client(base_url, sleeps, max_attempts=1) as graph:
        with pytest.raises(GraphAPIError):
            await graph.send(PAYLOAD)

    assert len(fake.requests) == 1
    assert sleeps.waits == []


@pytest.mark.parametrize(
    ("http_status", "body", "code"),
    [
        (400, graph_error_body(131047, "Re-engagement message"), 131047),
        (400, graph_error_body(131026, "Message undeliverable"), 131026),
        (
            400,
            graph_error_body(131049, "This message was not delivered to maintain healthy ecosystem"),
            131049,
        ),
        (400, graph_error_body(131050, "Unable to deliver the message"), 131050),
        (400, graph_error_body(131051, "Unsupported message type"), 131051),
        (400, graph_error_body(100, "Invalid parameter"), 100),
        # Decisions key on the code: a permanent code is not retried even with a 5xx status.
        (500, graph_error_body(131026, "Message undeliverable"), 131026),
    ],
)
async def test_permanent_errors_are_not_retried(
    client: GraphClient,
    fake: FakeGraphAPI,
    sleeps: SleepRecorder,
    http_status: int,
    body: dict[str, Any],
    code: int,
) -> None:
    fake.fail_next(http_status, body, times=3)

    with pytest.raises(GraphAPIError) as caught:
        await client.send(PAYLOAD)

    assert caught.value.code == code
    assert caught.value.retryable is False
    assert len(fake.requests) == 1
    assert sleeps.waits == []


async def test_expired_token_190_is_not_retried(client: GraphClient, fake: FakeGraphAPI) -> None:
    expired = load_fixture("error_190_expired_token_pywa.json")
    fake.fail_next(401, {"error": expired}, times=3)

    with pytest.raises(GraphAPIError) as caught:
        await client.send(PAYLOAD)

    assert caught.value.code == 190
    assert caught.value.http_status == 401
    assert caught.value.title.startswith("Error validating access token: Session has expired")
    assert caught.value.fbtrace_id == expired["fbtrace_id"]
    assert len(fake.requests) == 1


async def test_wrong_token_is_refused_with_190(
    base_url: str, fake: FakeGraphAPI, sleeps: SleepRecorder
) -> None:
    async with _client(base_url, sleeps, access_token="stale-token") as graph:
        with pytest.raises(GraphAPIError) as caught:
            await graph.send(PAYLOAD)
    assert (caught.value.code, caught.value.http_status) == (190, 401)
    assert len(fake.requests) == 1
    assert fake.sent == []


async def test_transient_code_is_retried_even_with_a_4xx_status(
    client: GraphClient, fake: FakeGraphAPI, sleeps: SleepRecorder
) -> None:
    fake.fail_next(400, graph_error_body(131000, "Something went wrong"))
    result = await client.send(PAYLOAD)
    assert result.attempts == 2
    assert sleeps.waits == [0.5]


async def test_5xx_without_error_body_is_retried(client: GraphClient, fake: FakeGraphAPI) -> None:
    fake.fail_next(502, "<html>Bad Gateway</html>", times=2)
    result = await client.send(PAYLOAD)
    assert result.attempts == 3


async def test_4xx_without_error_body_is_not_retried(client: GraphClient, fake: FakeGraphAPI) -> None:
    fake.fail_next(404, "Not Found")
    with pytest.raises(GraphAPIError) as caught:
        await client.send(PAYLOAD)
    assert (caught.value.code, caught.value.http_status, caught.value.retryable) == (None, 404, False)
    assert len(fake.requests) == 1


async def test_success_without_message_id_is_an_error_and_not_retried(
    client: GraphClient, fake: FakeGraphAPI
) -> None:
    fake.respond_next(200, {"messaging_product": "whatsapp", "messages": []})
    with pytest.raises(GraphAPIError, match=r"without messages\[0\]\.id") as caught:
        await client.send(PAYLOAD)
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


class FlakyTransport(httpx.AsyncBaseTransport):
    """Fails the first `failures` requests with a transport error, then uses real HTTP."""

    def __init__(self, error: type[httpx.TransportError], failures: int) -> None:
        self._error = error
        self._failures = failures
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._failures > 0:
            self._failures -= 1
            raise self._error("simulated network failure", request=request)
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_transport_errors_before_sending_are_retried(
    base_url: str, fake: FakeGraphAPI, sleeps: SleepRecorder, error: type[httpx.TransportError]
) -> None:
    async with _client(base_url, sleeps, transport=FlakyTransport(error, failures=2)) as graph:
        result = await graph.send(PAYLOAD)
    assert result.attempts == 3
    assert len(fake.sent) == 1
    assert sleeps.waits == [0.5, 1.0]


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError])
async def test_a_send_that_may_have_reached_graph_is_not_sent_again_within_the_call(
    base_url: str, fake: FakeGraphAPI, sleeps: SleepRecorder, error: type[httpx.TransportError]
) -> None:
    # The answer never came: Graph may have the message, so a second POST could deliver it twice.
    # The outbox tries again later, after looking for its status webhook.
    async with _client(base_url, sleeps, transport=FlakyTransport(error, failures=2)) as graph:
        with pytest.raises(GraphSendUncertain) as caught:
            await graph.send(PAYLOAD)
    assert caught.value.retryable is True
    assert isinstance(caught.value.__cause__, error)
    assert sleeps.waits == []


async def test_unreachable_server_gives_up_with_transport_error(sleeps: SleepRecorder) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with _client(closed, sleeps, max_attempts=2) as graph:
        with pytest.raises(GraphTransportError) as caught:
            await graph.send(PAYLOAD)
    assert isinstance(caught.value, GraphError)
    assert caught.value.retryable is True
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(sleeps.waits) == 1


async def test_client_is_closed_after_the_context_manager(base_url: str, sleeps: SleepRecorder) -> None:
    async with _client(base_url, sleeps) as graph:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        await graph.send(PAYLOAD)


def test_repr_never_shows_the_token() -> None:
    graph = GraphClient(base_url="http://graph.test", phone_number_id="1", access_token="very-secret-token")
    assert "very-secret-token" not in repr(graph)


@pytest.mark.parametrize(
    ("code", "waits"),
    [
        (131056, [1.0, 4.0, 16.0, 64.0]),
        (131057, [1.0, 4.0, 16.0, 64.0]),
        (130429, [1.0, 2.0, 4.0, 8.0]),
        (80007, [1.0, 2.0, 4.0, 8.0]),
        (131000, [0.5, 1.0, 2.0, 4.0]),
    ],
)
def test_backoff_policy_per_error_code(code: int, waits: list[float]) -> None:
    error = GraphAPIError(code=code, title="t")
    assert [backoff_seconds(error, attempt) for attempt in range(1, 5)] == waits


def test_retryable_classification_follows_the_code() -> None:
    assert GraphAPIError(code=4, title="app rate limit").retryable
    assert GraphAPIError(code=131057, title="maintenance", http_status=500).retryable
    assert not GraphAPIError(code=131047, title="window closed", http_status=400).retryable
    assert not GraphAPIError(code=190, title="expired", http_status=401).retryable
    assert GraphAPIError(code=None, title="no body", http_status=503).retryable
    assert GraphAPIError(code=None, title="no body", http_status=429).retryable
    assert not GraphAPIError(code=None, title="no body", http_status=400).retryable


def test_meta_temporary_api_errors_are_retried() -> None:
    assert GraphAPIError(code=1, title="An unknown error occurred", http_status=500).retryable
    assert GraphAPIError(code=2, title="Service temporarily unavailable", http_status=503).retryable
    assert not GraphAPIError(code=131026, title="Message undeliverable", http_status=400).retryable
