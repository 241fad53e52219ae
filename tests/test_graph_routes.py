"""The agents' graph: where each step may go is declared (so the drawn graph is the graph that runs),
and each step goes where the state it leaves says: a request for a person from the sentinel to the
handover, an ad lead to the qualifier, a question to the responder, and nothing after an answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from orchestrator.core.config import load_config
from orchestrator.core.context import GraphContext
from orchestrator.core.state import TurnMessage, turn_input
from orchestrator.runtime.graph import build_graph, thread_config

AD = {"source_type": "ad", "source_id": "120200000000000001"}


def _edges() -> set[tuple[str, str]]:
    drawn = build_graph(checkpointer=None).get_graph()
    return {(edge.source, edge.target) for edge in drawn.edges}


def test_the_drawn_graph_names_every_route_an_agent_can_take() -> None:
    assert _edges() == {
        ("__start__", "perceive"),
        ("perceive", "sentinel"),
        ("sentinel", "handover"),
        ("sentinel", "triage"),
        ("triage", "handover"),
        ("triage", "qualifier"),
        ("triage", "responder"),
        ("qualifier", "handover"),
        ("qualifier", "__end__"),
        ("responder", "handover"),
        ("responder", "__end__"),
        ("handover", "__end__"),
    }


async def _steps(words: list[str], *, referral: dict[str, Any] | None = None) -> list[str]:
    """The steps the graph ran for the last of `words`, each an earlier turn of one conversation."""
    graph = build_graph(checkpointer=InMemorySaver())
    context = GraphContext(
        config=load_config(None), now=datetime(2026, 11, 24, 10, tzinfo=UTC), referral=referral
    )
    ran: list[str] = []
    for i, said in enumerate(words):
        message: TurnMessage = {"id": i, "kind": "text", "text": said, "reply_id": None, "reply_title": None}
        ran = []
        async for update in graph.astream(
            turn_input([message]), config=thread_config(1), context=context, stream_mode="updates"
        ):
            ran += list(update)
    return ran


@pytest.mark.parametrize(
    ("words", "referral", "steps"),
    [
        (["I want to talk to a person please"], None, ["perceive", "sentinel", "handover"]),
        (
            ["Hello", "how much does the basic plan cost?"],
            None,
            ["perceive", "sentinel", "triage", "responder"],
        ),
        (["Hi from your ad"], AD, ["perceive", "sentinel", "triage", "qualifier"]),
        (
            ["Hi from your ad", "We're Globex Corporation", "automating order status questions"],
            AD,
            ["perceive", "sentinel", "triage", "qualifier", "handover"],
        ),
    ],
    ids=["request-for-a-person", "question", "ad-lead", "qualified-lead"],
)
async def test_each_step_goes_where_the_state_it_leaves_says(
    words: list[str], referral: dict[str, Any] | None, steps: list[str]
) -> None:
    assert await _steps(words, referral=referral) == steps
