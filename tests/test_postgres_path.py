"""The seed workflows on PostgreSQL (system of record past one machine): same webhook path, the
PostgreSQL LangGraph saver, row locks in the assignment engine."""

from __future__ import annotations

import pytest

from tests.factories import AD_REFERRAL, auth, button, say, text
from tests.fakes.graph import TestHarness

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_h: TestHarness) -> TestHarness:
    return pg_h


async def test_uk_ad_lead_is_qualified_into_uk_sales_on_postgres(pg: TestHarness) -> None:
    wa = "447700900321"
    await say(pg, text(wa, "Hi from the ad", pg.clock.now(), referral=AD_REFERRAL))
    await say(pg, text(wa, "the company is Initech", pg.clock.now()))
    sent = await say(pg, text(wa, "qualify our inbound leads", pg.clock.now()))
    assert any("UK Account Executives" in s for s in sent), sent
    listed = (await pg.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    assert listed[0]["queue"] == "uk_sales"
    assert listed[0]["owner"] == "human"
    detail = (await pg.http.get(f"/api/conversations/{listed[0]['id']}", headers=auth("demo-admin"))).json()
    assert detail["handoff_context"]["fields"]["company_name"]["value"] == "Initech"


async def test_support_button_and_bot_pause_on_postgres(pg: TestHarness) -> None:
    wa = "12025550901"
    await say(pg, text(wa, "Hello", pg.clock.now()))
    await say(pg, button(wa, "menu_support", "Support", pg.clock.now()))
    assert await say(pg, text(wa, "still there?", pg.clock.now())) == []
    listed = (await pg.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    assert listed[0]["queue"] == "support"
