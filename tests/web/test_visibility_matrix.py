"""The visibility matrix extended to the workspace: notes, claiming, read state, and the pages.
Invisible is 404, visible but not allowed 403, a state that does not allow it 409. Written out by
hand from the rules, not computed by the code under test; each write runs on a freshly seeded
conversation."""

from __future__ import annotations

import pytest

from tests.api.helpers import ACTORS, KINDS, TOKENS, bearer, seed_conversation
from tests.api.test_visibility_matrix import table
from tests.fakes.graph import TestHarness
from tests.web.helpers import browser, sign_in

#                      tara  diego farah lena  sam   admin
NOTES_READ = table("""
waiting_support        200   200   404   200   404   200
tara_support           200   404   404   200   404   200
farah_billing          404   404   200   404   404   200
bot                    404   404   404   404   404   200
closed_tara            200   404   404   200   404   200
""")
NOTES_WRITE = table("""
waiting_support        201   201   404   201   404   201
tara_support           201   404   404   201   404   201
farah_billing          404   404   201   404   404   201
bot                    404   404   404   404   404   201
closed_tara            201   404   404   201   404   201
""")
# Only a waiting conversation can be taken, and only by a member of its queue (the admin is in none).
CLAIM = table("""
waiting_support        200   200   404   200   404   403
tara_support           409   404   404   409   404   409
farah_billing          404   404   409   404   404   409
bot                    404   404   404   404   404   409
closed_tara            409   404   404   409   404   409
""")
MARK_READ = NOTES_READ
PAGE = NOTES_READ

CALLS = {
    "notes_read": ("GET", "notes", None, NOTES_READ),
    "notes_write": ("POST", "notes", {"text": "for the team, @diego"}, NOTES_WRITE),
    "claim": ("POST", "claim", None, CLAIM),
    "mark_read": ("POST", "read", None, MARK_READ),
}


@pytest.mark.parametrize("call", list(CALLS))
async def test_workspace_endpoint_answers_each_role_and_ownership_as_the_rules_say(
    h: TestHarness, call: str
) -> None:
    method, suffix, body, expected = CALLS[call]
    observed: dict[str, dict[str, int]] = {}
    for kind in KINDS.values():
        observed[kind.name] = {}
        for actor in ACTORS:
            conversation_id = await seed_conversation(h, kind)
            response = await h.http.request(
                method, f"/api/conversations/{conversation_id}/{suffix}", json=body, headers=bearer(actor)
            )
            observed[kind.name][actor] = response.status_code
            if response.status_code in (403, 404, 409):
                assert set(response.json()) == {"detail"}, response.text
    assert observed == expected


async def test_conversation_pages_answer_each_role_as_the_api_does(h: TestHarness) -> None:
    ids = {name: await seed_conversation(h, name) for name in KINDS}
    observed: dict[str, dict[str, int]] = {name: {} for name in KINDS}
    for actor in ACTORS:
        async with browser(h) as client:
            await sign_in(client, actor, TOKENS[actor])
            for name, conversation_id in ids.items():
                page = await client.get(f"/conversations/{conversation_id}")
                panel = await client.get(f"/conversations/{conversation_id}/fragments/panel")
                assert panel.status_code == page.status_code, (name, actor)
                observed[name][actor] = page.status_code
    assert observed == PAGE
