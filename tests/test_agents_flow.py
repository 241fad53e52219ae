"""The micro-agents through the real path: triage, qualification, answers, unresolved handoff,
language following, and the handoff's honest message."""

from __future__ import annotations

from orchestrator.runtime.simulator import build_list_reply_webhook
from tests.factories import AD_REFERRAL, auth, first_listed_conversation, say, text
from tests.fakes.graph import TestHarness


async def test_greeting_gets_the_welcome_menu_as_reply_buttons(h: TestHarness) -> None:
    await say(h, text("12025550401", "Hello", h.clock.now()))
    request = h.fake_graph.sent[-1]["json"]
    assert request["type"] == "interactive"
    titles = [b["reply"]["title"] for b in request["interactive"]["action"]["buttons"]]
    assert titles == ["Sales", "Support", "Billing"]


async def test_list_reply_routes_by_its_title(h: TestHarness) -> None:
    wa = "12025550402"
    await say(h, text(wa, "Hi", h.clock.now()))
    payload = build_list_reply_webhook(
        wa_id=wa,
        name="L",
        message_id="wamid.list.1",
        timestamp=h.clock.now(),
        reply_id="row-billing",
        title="Billing",
    )
    await say(h, payload)
    conversation = await first_listed_conversation(h)
    assert conversation["queue"] == "billing"
    assert conversation["handoff_context"]["department_choice"] == "billing"


async def test_qualifier_takes_several_fields_from_one_message(h: TestHarness) -> None:
    wa = "12025550403"
    await say(h, text(wa, "Hi from your ad", h.clock.now(), referral=AD_REFERRAL))
    sent = await say(
        h,
        text(
            wa, "We're Globex Corporation, about 200 employees, reach me at ops@globex.example", h.clock.now()
        ),
    )
    assert any("use it for" in s for s in sent), "asks only for what is missing: the use case"
    await say(h, text(wa, "automating order status questions", h.clock.now()))
    fields = (await first_listed_conversation(h))["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "Globex Corporation"
    assert fields["email"]["value"] == "ops@globex.example"
    assert "200" in fields["business_size"]["value"]
    assert fields["email"]["message_id"] == fields["company_name"]["message_id"]
    assert fields["use_case"]["message_id"] != fields["company_name"]["message_id"]


async def test_an_ad_lead_who_says_who_they_are_first_is_asked_only_for_the_use_case(h: TestHarness) -> None:
    # The README's quick start: the company comes in the first message, before the bot asks for it,
    # with a lead-in that needs a clear name after it ("we're"); asking for it again would make the
    # customer repeat themselves.
    wa = "447700900123"
    first = await say(
        h, text(wa, "Hi, I saw your ad. We're Northwind Traders", h.clock.now(), referral=AD_REFERRAL)
    )
    assert len(first) == 1
    assert "use it for" in first[0]
    assert "company" not in first[0]
    await say(h, text(wa, "we want to answer order questions on WhatsApp", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "qualified"
    fields = conversation["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "Northwind Traders"
    assert fields["use_case"]["value"] == "answer order questions on WhatsApp"


async def test_details_sent_in_one_burst_each_keep_the_message_they_came_from(h: TestHarness) -> None:
    # Both messages arrive inside one burst window, so one turn reads them: the company comes from
    # the first, the use case from the second, and the rep's panel quotes each one's own message.
    wa = "447700900124"
    h.service.turns.burst_window_s = h.service.turns.burst_quiet_s = 0.3
    said = ["Hi, I saw your ad. We're Northwind Traders", "we want to answer order questions on WhatsApp"]
    for words in said:
        first = words == said[0]
        response = await h.post(text(wa, words, h.clock.now(), referral=AD_REFERRAL if first else None))
        assert response.status_code == 200
    await h.service.turns.drain()
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "qualified"
    fields = conversation["handoff_context"]["fields"]
    text_of = {m["id"]: m["text"] for m in conversation["messages"]}
    assert text_of[fields["company_name"]["message_id"]] == said[0]
    assert text_of[fields["use_case"]["message_id"]] == said[1]
    summary = conversation["handoff_context"]["summary"]
    assert "Last said: “" + "” / “".join(said) + "”" in summary, summary


async def test_qualifier_asks_one_question_at_a_time(h: TestHarness) -> None:
    wa = "12025550404"
    first = await say(h, text(wa, "hello from the ad", h.clock.now(), referral=AD_REFERRAL))
    assert len(first) == 1
    assert "company" in first[0]
    assert "use" not in first[0].split("company")[1]


async def test_known_question_is_answered_from_the_knowledge_base(h: TestHarness) -> None:
    sent = await say(h, text("12025550405", "is there a free trial?", h.clock.now()))
    assert any("14-day free trial" in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_questions_in_other_words_than_the_knowledge_base_are_answered_not_handed_off(
    h: TestHarness,
) -> None:
    # Two misses in a row would be an `unresolved` handoff: these must be answered, in the
    # customer's language, though neither is worded as a listed question.
    wa = "12025550409"
    await say(h, text(wa, "Hello", h.clock.now()))
    hours = await say(h, text(wa, "what time do you open tomorrow?", h.clock.now()))
    assert any("Monday to Friday" in s for s in hours), hours
    trial = await say(h, text(wa, "ok and can I try it for free first?", h.clock.now()))
    assert any("14-day free trial" in s for s in trial), trial
    german = await say(h, text("4915112345678", "Was kostet das pro Monat?", h.clock.now()))
    assert any("49 $ pro Agentenplatz" in s for s in german), german
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    assert len(listed) == 2
    assert [c["owner"] for c in listed] == ["bot", "bot"], "neither conversation was handed off"


async def test_a_question_asked_again_unanswered_hands_off_as_unresolved(h: TestHarness) -> None:
    wa = "12025550406"
    await say(h, text(wa, "Hello", h.clock.now()))
    first = await say(h, text(wa, "can your API export invoices to SAP Business One?", h.clock.now()))
    assert any("don't have an answer" in s for s in first), first
    await say(h, text(wa, "so do my invoices end up in SAP by themselves or not?", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "unresolved"
    assert conversation["queue"] == "general"


async def test_different_unanswered_questions_hand_off_only_at_the_third(h: TestHarness) -> None:
    # Two questions about different things the bot cannot answer are not yet a failure to help;
    # a third unanswered one in a row is.
    wa = "12025550407"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "can your API export invoices to SAP Business One?", h.clock.now()))
    second = await say(h, text(wa, "does the webhook support mutual TLS?", h.clock.now()))
    # The second miss says so and offers a person; the bot keeps the conversation.
    assert any("can't answer that one either" in s for s in second), second
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "is there an on-premise edition?", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "unresolved"


async def test_the_same_unanswered_question_without_a_question_mark_hands_off(h: TestHarness) -> None:
    # "like can i connect ..." is a question after a discourse word, with no "?" at all. With one
    # topic word in common and no sign of asking again it may be a new question on the subject:
    # the bot offers a person; asked a third time, the question hands off.
    wa = "12025550409"
    await say(h, text(wa, "hey", h.clock.now()))
    await say(h, text(wa, "does it integrate with hubspot", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"
    second = await say(h, text(wa, "like can i connect our hubspot to it", h.clock.now()))
    assert any("can't answer that one either" in s for s in second), second
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "so hubspot connects or not", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_reason"] == "unresolved"


async def test_a_question_asked_again_after_a_greeting_keeps_its_double_question_mark(h: TestHarness) -> None:
    # "hello?? how do I link shopify": the greeting is set aside, its "??" still says "again".
    wa = "12025550411"
    await say(h, text(wa, "hi", h.clock.now()))
    await say(h, text(wa, "how do i connect my shopify store", h.clock.now()))
    await say(h, text(wa, "hello?? how do I link shopify to the inbox", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_reason"] == "unresolved"


async def test_a_third_unanswered_statement_in_a_row_hands_off(h: TestHarness) -> None:
    # Statements the bot cannot answer, none a question, none restating the other: the third in a
    # row still ends the bot's attempts.
    wa = "12025550410"
    await say(h, text(wa, "hello", h.clock.now()))
    await say(h, text(wa, "our warehouse scanner sends duplicate events", h.clock.now()))
    await say(h, text(wa, "the staging tenant shows a blank dashboard", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "invoices from march have the wrong tax code", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_reason"] == "unresolved"


async def test_a_problem_said_to_go_on_in_other_words_hands_off(h: TestHarness) -> None:
    wa = "5491123456789"
    await say(h, text(wa, "hola", h.clock.now()))
    await say(h, text(wa, "no me llegan las notificaciones de mensajes nuevos", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "sigue sin andar, no me llega nada", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_reason"] == "unresolved"


async def test_an_unanswered_problem_restated_as_still_going_on_hands_off(h: TestHarness) -> None:
    wa = "12025550408"
    await say(h, text(wa, "hello", h.clock.now()))
    first = await say(h, text(wa, "whatsapp number verify nahi ho raha", h.clock.now()))
    assert any("jawab mere paas nahi" in s for s in first), first  # the fallback, in Hinglish
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "abhi bhi same problem hai, number verify hi nahi ho raha", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_reason"] == "unresolved"


async def test_replies_follow_the_customers_language(h: TestHarness) -> None:
    wa = "5511987654321"
    sent = await say(h, text(wa, "Olá, vocês funcionam aos sábados?", h.clock.now()))
    assert any("sábados" in s or "segunda a sexta" in s for s in sent), sent
    handoff = await say(h, text(wa, "quero falar com um atendente", h.clock.now()))
    assert any("Obrigado" in s for s in handoff), handoff


async def test_after_hours_handoff_tells_the_customer_when_the_team_is_back(h: TestHarness) -> None:
    h.clock.set(h.clock.now().replace(hour=21))  # Tuesday 21:00 UTC: Finance is closed
    wa = "12025550407"
    await say(h, text(wa, "Hi", h.clock.now()))
    from tests.factories import button

    sent = await say(h, button(wa, "menu_billing", "Billing", h.clock.now()))
    assert any("closed" in s and "back tomorrow, 9:00" in s for s in sent), sent
    conversation = await first_listed_conversation(h)
    assert conversation["owner"] == "queued"
    assert conversation["assignee_id"] is None


async def test_a_company_named_clearly_later_replaces_a_bare_answer_taken_for_it(h: TestHarness) -> None:
    wa = "12025550431"
    await say(h, text(wa, "hi saw your ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Nothing Fancy", h.clock.now()))  # a bare answer, taken for the name
    await say(h, text(wa, "sorry, our company is called Coil & Crown", h.clock.now()))
    # The correction answers no question of its own: the use case is still asked for.
    assert (await first_listed_conversation(h))["handoff_context"] is None
    await say(h, text(wa, "order updates for our customers", h.clock.now()))
    fields = (await first_listed_conversation(h))["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "Coil & Crown"
    assert fields["use_case"]["value"] == "order updates for our customers"


async def test_a_company_given_with_a_label_later_replaces_a_town_taken_for_it(h: TestHarness) -> None:
    wa = "923001112233"
    await say(h, text(wa, "assalam o alaikum, saw the ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Bilal here from Multan", h.clock.now()))  # read as the company
    await say(h, text(wa, "company name: Noor Rice Mills (Pvt.) Ltd", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_context"] is None
    await say(h, text(wa, "order confirmations for our dealers", h.clock.now()))
    fields = (await first_listed_conversation(h))["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "Noor Rice Mills (Pvt.) Ltd"


async def test_a_name_with_an_abbreviated_legal_form_keeps_the_conversations_language(h: TestHarness) -> None:
    wa = "51987001122"
    await say(h, text(wa, "buenas tardes, vi el anuncio", h.clock.now(), referral=AD_REFERRAL))
    sent = await say(h, text(wa, "DISTRIBUIDORA SAN JUAN E.I.R.L.", h.clock.now()))
    assert any("¿Para qué" in s for s in sent), sent


async def test_a_person_declined_after_two_misses_keeps_the_bot(h: TestHarness) -> None:
    # The second miss offers a person; "no thanks, I'll ask around" declines it and asks nothing,
    # so it is no third unanswered question.
    wa = "12025550431"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "can your API export invoices to SAP Business One?", h.clock.now()))
    await say(h, text(wa, "does the webhook support mutual TLS?", h.clock.now()))
    reply = await say(h, text(wa, "alright, I'll ask our developer then. thanks anyway", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["owner"] == "bot"
    assert conversation["handoff_reason"] is None
    assert any("welcome" in s for s in reply), reply


async def test_an_ad_lead_who_will_answer_later_is_not_taken_for_a_use_case(h: TestHarness) -> None:
    wa = "12025550432"
    await say(h, text(wa, "hi, saw the ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Birchwood Physio", h.clock.now()))
    reply = await say(h, text(wa, "let me think about it, busy right now. thanks", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"
    assert any("pick up where we left off" in s for s in reply), reply
    # The question is still open: the answer given later is the use case, and qualifies the lead.
    await say(h, text(wa, "appointment reminders for patients", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "qualified"
    assert (
        conversation["handoff_context"]["fields"]["use_case"]["value"] == "appointment reminders for patients"
    )


async def test_a_third_unanswered_question_after_a_plain_ok_and_hands_off(h: TestHarness) -> None:
    # "ok and ...?" adds one more thing the bot cannot do; only a pleased "great, and ...?" goes on.
    wa = "12025550433"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "can your API export invoices to SAP Business One?", h.clock.now()))
    await say(h, text(wa, "does the webhook support mutual TLS?", h.clock.now()))
    await say(h, text(wa, "ok and is there an on-premise edition?", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_reason"] == "unresolved"


async def test_a_name_the_bot_passed_over_is_taken_once_the_customer_confirms_it(h: TestHarness) -> None:
    # A bar called "Buenas Noches" reads as a greeting; "sí, así se llama" points back to it.
    wa = "5215512345678"
    await say(h, text(wa, "hola, vi el anuncio", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Buenas Noches", h.clock.now()))
    await say(h, text(wa, "sí jaja, así se llama el bar", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "reservas de mesas y pedidos para llevar", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "qualified"
    fields = conversation["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "Buenas Noches"
    assert fields["use_case"]["value"] == "reservas de mesas y pedidos para llevar"


async def test_an_ad_lead_who_gives_up_after_a_miss_hands_off_as_frustrated(h: TestHarness) -> None:
    wa = "12025550434"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "does it integrate with Zoho Desk?", h.clock.now()))
    await say(h, text(wa, "ugh forget it", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_reason"] == "frustration"


async def test_an_ok_between_unanswered_questions_does_not_reset_the_count(h: TestHarness) -> None:
    wa = "12025550435"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "where is the data stored, US or EU?", h.clock.now()))
    await say(h, text(wa, "ok", h.clock.now()))
    await say(h, text(wa, "do you have a DPA we can sign?", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "is there SSO with Okta?", h.clock.now()))
    assert (await first_listed_conversation(h))["handoff_reason"] == "unresolved"


async def test_a_greeting_two_languages_share_is_answered_in_the_language_of_the_number(
    h: TestHarness,
) -> None:
    # "salve" greets in Italian and in Portuguese: from an Italian number, the welcome is Italian.
    sent = await say(h, text("393331234567", "salve", h.clock.now()))
    assert any("assistente virtuale" in s for s in sent), sent


async def test_praise_after_an_ok_that_followed_a_miss_is_sincere(h: TestHarness) -> None:
    # Sarcasm is praise right after a miss; once the customer said "ok", it is thanks.
    wa = "5511987654321"
    await say(h, text(wa, "Olá bom dia", h.clock.now()))
    await say(h, text(wa, "vocês integram com o Bling?", h.clock.now()))
    await say(h, text(wa, "Ótimo 👍", h.clock.now()))
    await say(h, text(wa, "Obrigadíssimo, foi muito útil!", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_a_correction_replaces_a_name_given_with_a_lead_in(h: TestHarness) -> None:
    # "soy Marta de Viveros Ebro" is a clear name, yet the customer's own correction wins.
    wa = "34612345001"
    await say(h, text(wa, "hola, soy Marta de Viveros Ebro", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "perdón, Viveros del Ebro, que me como las palabras jaja", h.clock.now()))
    await say(h, text(wa, "venta de plantas por whatsapp", h.clock.now()))
    fields = (await first_listed_conversation(h))["handoff_context"]["fields"]
    assert fields["company_name"]["value"] == "Viveros del Ebro"
    assert fields["use_case"]["value"] == "venta de plantas por whatsapp"


async def test_an_apology_for_a_pause_is_not_taken_for_the_use_case(h: TestHarness) -> None:
    wa = "12025550434"
    await say(h, text(wa, "hi there", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Maple Street Daycare", h.clock.now()))
    await say(h, text(wa, "sorry my kid took the phone haha", h.clock.now()))
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "messaging parents about pickups", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "qualified"
    assert conversation["handoff_context"]["fields"]["use_case"]["value"] == "messaging parents about pickups"


async def test_a_long_message_is_quoted_shortened_at_a_word_in_the_summary(h: TestHarness) -> None:
    wa = "12025550931"
    long = "I want to talk to a person about our account " + "because the numbers do not match " * 30
    await say(h, text(wa, long, h.clock.now()))
    summary = (await first_listed_conversation(h))["handoff_context"]["summary"]
    quoted = summary.split("Last said: “", 1)[1]
    assert quoted.endswith("…”"), summary
    assert len(quoted) <= 163
    assert long.startswith(quoted.removesuffix("…”"))


async def test_asking_a_third_time_what_two_answers_did_not_settle_hands_off_as_unresolved(
    h: TestHarness,
) -> None:
    # The same entry answers twice; the customer asks the same thing a third time and the bot has
    # nothing else: the answers did not help, a person does.
    wa = "12025550416"
    await say(h, text(wa, "Hello", h.clock.now()))
    first = await say(h, text(wa, "How do I add my drivers as sub users?", h.clock.now()))
    second = await say(h, text(wa, "I want each of my drivers to have their own login, how?", h.clock.now()))
    assert second == first, (first, second)
    assert "per-agent seats" in first[0], first
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "drivers own login. how do I set it up", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "unresolved"
    # The context log says why: one question asked a third time, not misses in a row.
    signals = conversation["handoff_context"]["evidence"]["signals"]
    assert [s["rule"] for s in signals] == ["asked a third time"]


async def test_a_miss_an_answer_and_a_miss_on_one_question_hand_off_as_unresolved(h: TestHarness) -> None:
    wa = "12025550419"
    await say(h, text(wa, "Hello", h.clock.now()))
    first = await say(
        h, text(wa, "how do I give my second receptionist access to the account", h.clock.now())
    )
    assert any("don't have an answer" in s for s in first), first
    answered = await say(h, text(wa, "I want to add another user, the receptionist, how?", h.clock.now()))
    assert any("per-agent seats" in s for s in answered), answered
    assert (await first_listed_conversation(h))["owner"] == "bot"
    await say(h, text(wa, "adding a second user for my receptionist - steps please", h.clock.now()))
    conversation = await first_listed_conversation(h)
    assert conversation["handoff_reason"] == "unresolved"


async def test_a_new_question_on_the_topic_after_two_answers_is_one_miss(h: TestHarness) -> None:
    wa = "12025550417"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "how much is the basic plan?", h.clock.now()))
    await say(h, text(wa, "and how much is the pro plan?", h.clock.now()))
    sent = await say(h, text(wa, "do NGOs get a discount?", h.clock.now()))
    assert any("don't have an answer" in s for s in sent), sent
    assert (await first_listed_conversation(h))["owner"] == "bot"


async def test_a_trial_asked_for_a_plan_is_answered_with_the_trial(h: TestHarness) -> None:
    wa = "12025550418"
    await say(h, text(wa, "Hello", h.clock.now()))
    sent = await say(h, text(wa, "do you have a trial for that plan too?", h.clock.now()))
    assert any("14-day free trial" in s for s in sent), sent
