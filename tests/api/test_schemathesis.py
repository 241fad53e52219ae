"""A bounded schemathesis run over the whole OpenAPI schema: generated requests, valid and invalid,
as an admin and as the rep who owns a seeded conversation. No server error, and every answer matches
what the schema documents (status code, content type, body, headers).

The run is in-process (ASGI) against a fresh database seeded with one conversation of each kind, a
few examples per operation, derandomised so a failure reproduces."""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orchestrator.core.clock import FrozenClock
from orchestrator.core.config import load_config
from orchestrator.core.settings import Settings
from orchestrator.runtime.app import create_app
from orchestrator.runtime.replay import harness
from orchestrator.runtime.simulator import GraphSink
from tests.api.helpers import KINDS, seed_conversation
from tests.conftest import OPEN_HOURS

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = 4


async def seed(database_url: str) -> dict[str, int]:
    async with harness(
        database_url=database_url,
        config=load_config(None),
        at=OPEN_HOURS,
        migrate=False,
        fake_graph=GraphSink(),
    ) as h:
        return {name: await seed_conversation(h, name) for name in KINDS}


def run_operation(operation: Any, *, mode: GenerationMode, token: str, **fixed: Any) -> None:
    strategy = operation.as_strategy(generation_mode=mode, **fixed)
    # The rep API must answer as documented; elsewhere (the webhook, owned apart) no server error.
    checks = CONFORMANCE if operation.path.startswith("/api/") else [not_a_server_error]

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        headers = (
            {"Authorization": f"Bearer {token}"}
            if case.headers is None or "Authorization" not in case.headers
            else None
        )
        case.call_and_validate(headers=headers, checks=checks)

    check()


def test_generated_requests_get_no_server_error_and_documented_answers(
    sqlite_url: str, graph_api_url: str
) -> None:
    conversations = asyncio.run(seed(sqlite_url))
    app = create_app(
        settings=Settings(
            database_url=sqlite_url,
            whatsapp_api_url=graph_api_url,
            burst_window_s=0,
            run_background=False,
        ),
        migrate=False,
        clock=FrozenClock(OPEN_HOURS),
    )
    try:
        # The stream never ends by design; it has tests of its own.
        schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/api/stream")
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) >= 25
        for operation in operations:
            run_operation(operation, mode=GenerationMode.POSITIVE, token="demo-admin")
            if list(operation.iter_parameters()) or operation.body:  # something that can be made invalid
                run_operation(operation, mode=GenerationMode.NEGATIVE, token="demo-admin")
            if "{conversation_id}" in operation.path:
                # On a real conversation, as its owner: the success paths, not only 404s.
                run_operation(
                    operation,
                    mode=GenerationMode.POSITIVE,
                    token="demo-tara",
                    path_parameters={"conversation_id": conversations["tara_support"]},
                )
    finally:
        shutdown_lifespans()
