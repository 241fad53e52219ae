"""Offline lead-field extraction: company name, use case, email, business size, budget."""

from __future__ import annotations

import pytest

from agents.extract import (
    Extracted,
    extract_budget,
    extract_business_size,
    extract_company_name,
    extract_email,
    extract_fields,
    extract_use_case,
)


def _values(text: str, asking: str | None) -> dict[str, str]:
    return {x.field: x.value for x in extract_fields(text, asking=asking)}


def _use_case_when_asked(text: str) -> str | None:
    found = extract_use_case(text, asked=True)
    return found.value if found is not None else None


@pytest.mark.parametrize(
    "text",
    [
        "Hi! I want to know more",
        "hello from the ad",
        "Hi from your ad",
        "Hi, saw your ad",
        "Hola, vi el anuncio",
        "Olá, vim pelo anúncio",
        "Hi, I clicked on the ad",
        "Hi, I'm from Brazil",
    ],
)
def test_ad_greeting_yields_no_company_name(text: str) -> None:
    assert extract_company_name(text, asked=False) is None
    assert "company_name" not in _values(text, None)


@pytest.mark.parametrize(
    "text", ["Hi from your ad", "why do you need that?", "ok", "thanks!", "can I talk to a human?"]
)
def test_chatter_is_not_a_company_name_even_when_asked(text: str) -> None:
    assert extract_company_name(text, asked=True) is None


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("the company is Initech", "Initech"),
        ("Minha empresa é a Padaria Central", "Padaria Central"),
        ("mi empresa se llama Ferretería López", "Ferretería López"),
        ("nama perusahaan saya Toko Maju Jaya", "Toko Maju Jaya"),
        ("ons bedrijf heet Bakkerij de Vries", "Bakkerij de Vries"),
        ("oh en het bedrijf is Bakkerij de Vries", "Bakkerij de Vries"),
        ("onze winkel heet Fietsenmaker Jansen", "Fietsenmaker Jansen"),
        ("it's called Blue Bottle", "Blue Bottle"),
        ("our company name is Acme, and we sell shoes", "Acme"),
    ],
)
def test_company_after_a_lead_in_is_found_unasked(text: str, company: str) -> None:
    found = extract_company_name(text, asked=False)
    assert found is not None
    assert found.value == company
    assert found.confidence >= 0.9


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Umbrella Corp", "Umbrella Corp"),
        ("Stark Industries", "Stark Industries"),
        ("Boulangerie Martin", "Boulangerie Martin"),
        ("We're Globex Corporation", "Globex Corporation"),
        ("Wir sind die Müller GmbH", "Müller GmbH"),
        ("lavoro per Rossi Srl", "Rossi Srl"),
        ("I work at Google", "Google"),
        ("Initech. We sell printers", "Initech"),
        ("acme", "acme"),
        ("Praxis Dr. Weber", "Praxis Dr. Weber"),  # a title's period ends no sentence
        # after a role, an Italian article or a Hinglish possessive
        ("I run marketing at Bloom & Vine Florists - we'd like order updates", "Bloom & Vine Florists"),
        ("l'azienda è Ceramiche Bellini srl", "Ceramiche Bellini srl"),
        ("humara Mehta Sweets hai, diwali orders ke liye bulk message bhejna hai", "Mehta Sweets"),
        # Mexico's legal form, in full
        ("Grupo Norte SA de CV, vendemos autopartes", "Grupo Norte SA de CV"),
        ("Ferretera Bajío S.A. de C.V.", "Ferretera Bajío S.A. de C.V."),
        # a particle or a joiner between the capitalised words of a name with a legal form
        ("Ferretera del Bajío S.A.", "Ferretera del Bajío S.A."),
        ("Casa de Campo Ltda", "Casa de Campo Ltda"),
        ("Bank of Ireland Ltd", "Bank of Ireland Ltd"),
        ("Pieter van der Berg BV", "Pieter van der Berg BV"),
        ("Mueller und Sohn GmbH", "Mueller und Sohn GmbH"),
        ("Pérez y Asociados S.A.", "Pérez y Asociados S.A."),
        ("Aceros Norte SA de CV", "Aceros Norte SA de CV"),
    ],
)
def test_bare_or_weak_answer_is_the_company_when_asked(text: str, company: str) -> None:
    found = extract_company_name(text, asked=True)
    assert found is not None
    assert found.value == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Ana de Ferretera López S.A.", "Ferretera López S.A."),
        ("Hola Ana aqui de Ferretera del Bajío S.A.", "Ferretera del Bajío S.A."),
        ("Ana of Harper & Cole Ltd", "Harper & Cole Ltd"),
    ],
)
def test_the_customers_own_name_before_where_they_are_from_is_not_the_company(
    text: str, company: str
) -> None:
    found = extract_company_name(text, asked=True, person="Ana Ruiz")
    assert found is not None
    assert found.value == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Hi! saw ur ad. I'm with Brightside Pediatrics, do you have a free trial?", "Brightside Pediatrics"),
        ("bonjour, ici Boulangerie Martin, on voudrait des infos", "Boulangerie Martin"),
        ("Hola, aquí Panadería Ruiz. Una pregunta", "Panadería Ruiz"),
        ("I work for Northwind Traders and saw the ad", "Northwind Traders"),
    ],
)
def test_a_company_introduced_as_where_the_customer_is_is_found_unasked(text: str, company: str) -> None:
    found = extract_company_name(text, asked=False)
    assert found is not None
    assert found.value == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Hi, I saw your ad. We're Northwind Traders", "Northwind Traders"),
        ("We are Bloom Dental Studio, saw your ad", "Bloom Dental Studio"),
        ("Hola! Somos Panadería Ruiz", "Panadería Ruiz"),
        ("Bonjour, nous sommes Atelier Lumen", "Atelier Lumen"),
        ("Hallo, wir sind Nordlicht Events", "Nordlicht Events"),
        ("Ciao, siamo Centro Estetico Aurora", "Centro Estetico Aurora"),
        ("Hoi, wij zijn Bakkerij De Molen", "Bakkerij De Molen"),
    ],
)
def test_we_are_before_a_clear_name_is_the_company_unasked(text: str, company: str) -> None:
    found = extract_company_name(text, asked=False)
    assert found is not None
    assert found.value == company


@pytest.mark.parametrize(
    "text",
    [
        "We're from New York",
        "We're based in New York",
        "Somos de São Paulo",
        "We're a small bakery",
        "We're Really Interested In This",
        "Hi! We are Looking For Info",
        "We are Interested",
        "Hi we're Ana and Tom",
        "We're Northwind? Is that ok",
        "We are New Customers",
        "Hi, we're Existing Clients of yours",
        "We Are Small Business Owners",
        "Hola, somos Clientes Nuevos",
        "Wir sind Neue Kunden",
    ],
)
def test_we_are_before_anything_but_a_clear_name_gives_no_company_unasked(text: str) -> None:
    assert extract_company_name(text, asked=False) is None


@pytest.mark.parametrize(
    "text", ["I'm with my family on holiday", "ici je voudrais savoir le prix", "aquí en casa"]
)
def test_being_somewhere_is_not_a_company(text: str) -> None:
    assert extract_company_name(text, asked=False) is None


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Les escribo de Hostería Los Alerces", "Hostería Los Alerces"),
        ("I'm writing on behalf of Harbourview Hotels", "Harbourview Hotels"),
        ("oh sorry, the name's Castlegate Lettings", "Castlegate Lettings"),
        ("Kind regards,\nPhilippa Grant\nOperations Manager, Ashdown Lettings", "Ashdown Lettings"),
        ("les escribo de parte de Ferretería Hermanos Ochoa", "Ferretería Hermanos Ochoa"),
        ("le restaurant s'appelle Chez Mireille", "Chez Mireille"),
        ("somos uma ótica de família, chamada Ótica Visão Clara", "Ótica Visão Clara"),
        ("ah y el nombre es Hostal Las Buganvillas", "Hostal Las Buganvillas"),
        ("la inmobiliaria se llama Pampa Propiedades", "Pampa Propiedades"),
        ("usahaku laundry kiloan, namanya Bersih Kilat", "Bersih Kilat"),
        ("je suis de chez Boulangerie Marchal et on voudrait", "Boulangerie Marchal"),
        ("o salão é o Studio Bella Unhas", "Studio Bella Unhas"),
        ("Ich schreibe Ihnen von der Nordlicht Textil GmbH", "Nordlicht Textil GmbH"),
    ],
)
def test_a_company_written_from_is_found_unasked(text: str, company: str) -> None:
    found = extract_company_name(text, asked=False)
    assert found is not None
    assert found.value == company


def test_a_hinglish_from_keeps_its_verb_out_of_the_name() -> None:
    found = extract_company_name("hum Sharma Coaching Classes se hai", asked=True)
    assert found is not None
    assert found.value == "Sharma Coaching Classes"


def test_a_signature_after_a_dash_is_the_company_and_ends_the_use_case() -> None:
    found = _values("Wir möchten Terminerinnerungen verschicken – Physiotherapie Kranich", None)
    assert found == {"company_name": "Physiotherapie Kranich", "use_case": "Terminerinnerungen verschicken"}


def test_a_use_case_with_its_lead_in_answering_the_company_question_gives_no_company() -> None:
    found = _values("We'd be wanting it for shift swap requests from our nursing staff", "company_name")
    assert found == {"use_case": "shift swap requests from our nursing staff"}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Centro Estetico Aurora qui, ci serve", "Centro Estetico Aurora"),
        ("kami PT Nusantara Logistik, rencananya", "PT Nusantara Logistik"),
    ],
)
def test_a_name_here_in_other_languages_is_the_company(text: str, company: str) -> None:
    found = extract_company_name(text, asked=False, unasked_weak=True)
    assert found is not None
    assert found.value == company


def test_the_town_after_a_company_name_is_left_out() -> None:
    found = extract_company_name("We're Kettle & Crumb Bakery in Leeds and we need a tool", asked=True)
    assert found is not None
    assert found.value == "Kettle & Crumb Bakery"


def test_its_for_doing_something_is_no_company() -> None:
    assert extract_company_name("It's for sending appointment reminders", asked=True) is None


def test_its_for_a_name_answers_the_company_question() -> None:
    found = extract_company_name("it's for Brightwater Trust", asked=True)
    assert found is not None
    assert found.value == "Brightwater Trust"


def test_an_answer_opening_with_mainly_is_a_use_case_not_a_company() -> None:
    found = extract_fields("Hauptsächlich Kundenservice für unseren Onlineshop", asking="company_name")
    assert [(f.field, f.value) for f in found] == [("use_case", "Kundenservice für unseren Onlineshop")]


def test_bare_name_is_not_taken_when_not_asked() -> None:
    assert extract_company_name("Boulangerie Martin", asked=False) is None


def test_legal_suffix_marks_a_company_anywhere() -> None:
    found = extract_company_name("I'm Ana from Acme Ltd, we have 25 employees", asked=False)
    assert found is not None
    assert found.value == "Acme Ltd"


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("we want to qualify inbound leads automatically", "qualify inbound leads automatically"),
        ("customer support in three countries", "customer support in three countries"),
        ("receber encomendas pelo WhatsApp", "receber encomendas pelo WhatsApp"),
        ("we'd use it to send delivery notifications", "send delivery notifications"),
        ("untuk follow up pelanggan", "follow up pelanggan"),
        ("Terminvereinbarung für unsere Kunden", "Terminvereinbarung für unsere Kunden"),
        ("mostly to answer FAQs and book demos, thanks", "answer FAQs and book demos"),
        (
            "we wanna use it for order updates for our online store, nothing fancy",
            "order updates for our online store",
        ),
        ("customer support ke liye chahiye, warranty wale queries bahut aate hai", "customer support"),
        ("order updates, invoices and reminders", "order updates, invoices and reminders"),
        ("need something to handle admissions questions", "handle admissions questions"),
        ("on voudrait l'utiliser pour la prise de rendez-vous", "la prise de rendez-vous"),
        ("queremos usarlo para confirmar citas", "confirmar citas"),
        ("we willen het gebruiken voor klantenservice", "klantenservice"),
        ("vorremmo usarlo per le prenotazioni dei tavoli", "le prenotazioni dei tavoli"),
        ("c'est surtout pour les réservations", "les réservations"),
        ("we'd like to use it mostly for loan status updates", "loan status updates"),
        (
            "Main use would be handling guest requests during their stay",
            "handling guest requests during their stay",
        ),
        ("la idea es manejar reservas y consultas", "manejar reservas y consultas"),
        ("I'd imagine mostly delivery ETA updates for customers", "delivery ETA updates for customers"),
        (
            "hoje nosso problema é avisar os clientes quando o óculos fica pronto",
            "avisar os clientes quando o óculos fica pronto",
        ),
        ("on n'arrive plus à suivre les réservations de tables", "suivre les réservations de tables"),
        (
            "It's for sending appointment reminders to our patients",
            "sending appointment reminders to our patients",
        ),
        ("a gente pensou em usar pra rastreamento de entregas", "rastreamento de entregas"),
        ("sería principalmente para confirmar horas médicas", "confirmar horas médicas"),
        ("ce serait surtout pour les signalements des habitants", "les signalements des habitants"),
    ],
)
def test_answer_is_the_use_case_when_asked(text: str, use_case: str) -> None:
    assert _use_case_when_asked(text) == use_case


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("Hi, we are Olive Tree Academy and we need it for parent communication", "parent communication"),
        (
            "Wir sind die Müller Zahntechnik GmbH und wollen damit Terminerinnerungen verschicken",
            "Terminerinnerungen verschicken",
        ),
        (
            "hey we're Maple Grove Clinic, want to use whatsapp for appointment reminders for parents",
            "appointment reminders for parents",
        ),
        (
            "Parcelpoint here, we're a fulfilment company and want WhatsApp for delivery alerts",
            "delivery alerts",
        ),
        (
            "Toko Batik Sekar Arum, buat balesin pertanyaan stok sama ongkir",
            "balesin pertanyaan stok sama ongkir",
        ),
        (
            "Wir sind die Hoffmann Makler GmbH und wollen Schadensmeldungen über WhatsApp annehmen",
            "Schadensmeldungen über WhatsApp annehmen",
        ),
        ("Centro Estetico Aurora qui, ci serve per ricordare gli appuntamenti", "ricordare gli appuntamenti"),
        (
            "Westbrook University here, we'd be looking at it for answering applicant questions",
            "answering applicant questions",
        ),
        ("kami PT Nusantara Logistik, rencananya buat notifikasi pengiriman", "notifikasi pengiriman"),
        (
            "trabalho no Instituto Semear e a ideia é usar o whatsapp para comunicação com as famílias",
            "comunicação com as famílias",
        ),
    ],
)
def test_a_use_case_after_the_company_in_one_message_is_found_unasked(text: str, use_case: str) -> None:
    found = extract_use_case(text, asked=False)
    assert found is not None
    assert found.value == use_case


def test_use_case_needs_a_clear_lead_in_when_not_asked() -> None:
    assert extract_use_case("Hi! I want to know more", asked=False) is None
    found = extract_use_case("Acme here, we'd use it for appointment reminders", asked=False)
    assert found is not None
    assert found.value == "appointment reminders"


@pytest.mark.parametrize("text", ["sure", "ok thanks", "how much does it cost?", "I want to talk to a human"])
def test_chatter_is_not_a_use_case(text: str) -> None:
    assert extract_use_case(text, asked=True) is None


def test_email_is_extracted() -> None:
    found = extract_email("you can reach me at ana.lopez+leads@acme.co.uk.")
    assert found == Extracted(
        field="email",
        value="ana.lopez+leads@acme.co.uk",
        evidence="ana.lopez+leads@acme.co.uk",
        confidence=0.95,
    )
    assert extract_email("no email here @ all") is None


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("our agency has 12 agents, do you support teams?", "12"),
        ("Wir haben 30 Mitarbeiter im Kundenservice", "30"),
        ("we are 10-50 employees", "10-50"),
        ("a team of 8", "8"),
        ("just me, freelancer", "1"),
    ],
)
def test_business_size_is_a_head_count(text: str, size: str) -> None:
    found = extract_business_size(text)
    assert found is not None
    assert found.value == size


def test_business_size_ignores_other_numbers() -> None:
    assert extract_business_size("can your agents handle 500 chats a day?") is None


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("our budget is $500/month", "$500/month"),
        ("R$ 2.000 por mês", "R$ 2.000 por mês"),
        ("around 300 EUR per month", "300 EUR per month"),
        ("budget of 1k", "budget of 1k"),
    ],
)
def test_budget_is_an_amount(text: str, budget: str) -> None:
    found = extract_budget(text)
    assert found is not None
    assert found.value == budget


def test_several_fields_come_from_one_message() -> None:
    text = "the company is Acme Ltd, we'd use it for support. 25 employees, budget $500, ana@acme.com"
    values = _values(text, "company_name")
    assert values == {
        "company_name": "Acme Ltd",
        "use_case": "support",
        "email": "ana@acme.com",
        "business_size": "25",
        "budget": "$500",
    }


def test_email_only_answer_is_not_a_company_name() -> None:
    assert _values("ana@acme.com", "company_name") == {"email": "ana@acme.com"}


def test_qualification_dialogue_fills_company_then_use_case() -> None:
    assert _values("Hi! I want to know more", None) == {}
    assert _values("the company is Initech", "company_name") == {"company_name": "Initech"}
    assert _values("we want to qualify inbound leads automatically", "use_case") == {
        "use_case": "qualify inbound leads automatically"
    }


@pytest.mark.parametrize(
    "text",
    [
        "Hola, quiero más información",
        "Bonjour, je voudrais plus d'infos svp",
        "vorrei info",
        "ik wil graag meer info",
    ],
)
def test_a_request_for_information_is_not_a_use_case(text: str) -> None:
    assert "use_case" not in _values(text, None)
    assert "use_case" not in _values(text, "company_name")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("somos Reformas Albacete S.L.", "Reformas Albacete S.L."),
        ("we are Nexa Infotech Pvt. Ltd. from Pune", "Nexa Infotech Pvt. Ltd."),
        ("ah ok, Distribuidora Norteña S.A. de C.V.", "Distribuidora Norteña S.A. de C.V."),
        ("Summit Roofing Co.", "Summit Roofing Co."),
    ],
)
def test_a_legal_form_keeps_its_dots(text: str, name: str) -> None:
    assert _values(text, "company_name")["company_name"] == name


def test_a_capitalised_article_is_part_of_the_name_and_a_lowercase_one_is_not() -> None:
    found = _values(
        "On est Le Petit Atelier, une boutique à Lyon. On voudrait centraliser les messages", None
    )
    assert found["company_name"] == "Le Petit Atelier"
    assert _values("a Padaria Central", "company_name")["company_name"] == "Padaria Central"


def test_a_latin_name_ends_where_arabic_words_begin() -> None:
    found = _values("مرحبا، أنا من شركة Falcon Tech Solutions LLC ونبغاه لدعم العملاء", None)
    assert found["company_name"] == "Falcon Tech Solutions LLC"
    assert "دعم العملاء" in found["use_case"]


def test_one_capitalised_word_is_a_name_beside_a_use_case_in_the_same_message() -> None:
    found = _values(
        "Hi! I'm from Bloom, a flower shop in Austin. We want to handle online orders on whatsapp", None
    )
    assert found["company_name"] == "Bloom"
    assert found["use_case"].startswith("handle online orders on whatsapp")
    assert "company_name" not in _values("hi, I'm from Bloom", None), "alone, one word is not clear enough"


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("customer support mostly, we get tons of dms", "customer support"),
        ("selling on whatsapp + answering DMs, budget is like $50/mo", "selling on whatsapp + answering DMs"),
        ("appointment reminders, invoices and follow ups", "appointment reminders, invoices and follow ups"),
        (
            "we sell used cars, want to manage enquiries from facebook ads",
            "manage enquiries from facebook ads",
        ),
    ],
)
def test_a_use_case_answer_loses_the_remarks_around_it(text: str, use_case: str) -> None:
    assert _values(text, "use_case")["use_case"] == use_case


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("the company? it's blue door bakery", "blue door bakery"),
        ("ok. wir sind die weber & söhne kg", "weber & söhne kg"),
    ],
)
def test_asked_for_the_company_a_lowercase_name_after_a_lead_counts(text: str, name: str) -> None:
    assert _values(text, "company_name") == {"company_name": name}
    assert "company_name" not in _values(text, None), "unasked, a lowercase name is not taken"


def test_wanting_to_try_the_product_is_not_a_use_case() -> None:
    assert "use_case" not in _values("Hi, I want to try the WhatsApp inbox", None)


def test_an_acknowledgement_before_the_use_case_is_not_the_use_case() -> None:
    found = _values("ok cool. we want it for appointment reminders + patient questions", "use_case")
    assert found["use_case"] == "appointment reminders + patient questions"


def test_a_head_count_after_we_are_is_not_a_company_name() -> None:
    assert "company_name" not in _values(
        "Für Kundenservice über WhatsApp, wir sind 6 Leute im Support", "company_name"
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("minha marca é a Doce Lar Confeitaria 🍰", "Doce Lar Confeitaria"),
        ("nama usahaku Batik Sekar Solo", "Batik Sekar Solo"),
        ("mi emprendimiento se llama Velas Luna 🕯️", "Velas Luna"),
        ("se llama Tacos El Güero, ah y mi correo es x@y.mx", "Tacos El Güero"),
        ("empresa: Mar Azul Surf, usamos para reservas de clases", "Mar Azul Surf"),
        ("so im anna from Kettle & Co, we're a tiny bakery in leeds", "Kettle & Co"),
    ],
)
def test_a_company_is_found_after_labels_naming_verbs_and_a_lowercase_introduction(
    text: str, name: str
) -> None:
    assert _values(text, "company_name")["company_name"] == name


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "wanna use it for appointment reminders for my barbers 💈 no shows r killing us",
            "appointment reminders for my barbers",
        ),
        ("mau pake buat auto reply pesanan biar ga kewalahan 😭", "auto reply pesanan"),
        ("mostly need a shared inbox so my 3 VAs can answer dms without clashing", "a shared inbox"),
        (
            "mainly want automated replies for order questions tbh, ppl ask the same thing all day",
            "automated replies for order questions",
        ),
        ("usamos para marcações de aulas 🏄 e lembretes", "marcações de aulas"),
        ("wir brauchen das vor allem für kundenservice im team 📦", "kundenservice im team"),
        ("quiero usarlo pa atender pedidos de mi tienda", "atender pedidos de mi tienda"),
    ],
)
def test_a_use_case_ends_at_an_emoji_a_purpose_or_a_remark(text: str, use_case: str) -> None:
    assert _use_case_when_asked(text) == use_case


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "buat balas chat pelanggan otomatis kak, soalnya adminnya kewalahan",
            "balas chat pelanggan otomatis",
        ),
        ("order updates because we get tons of calls about deliveries", "order updates"),
        ("atender pedidos porque no damos abasto", "atender pedidos"),
        ("hume customers ko order updates bhejna hai automatically", "customers ko order updates bhejna"),
        (
            "humein student admission enquiries handle karni hai",
            "student admission enquiries handle karni hai",
        ),
        ("bräuchten das für terminvereinbarungen in der werkstatt", "terminvereinbarungen in der werkstatt"),
        (
            "automate order updates for our online bakery, the company is called Crumb and Co",
            "automate order updates for our online bakery",
        ),
    ],
)
def test_a_use_case_leaves_out_the_reason_a_trailing_verb_ending_and_the_company_named_after_it(
    text: str, use_case: str
) -> None:
    assert _use_case_when_asked(text) == use_case


@pytest.mark.parametrize(
    ("text", "company", "asked"),
    [
        ("oh and the company's FitHub Leeds", "FitHub Leeds", False),
        ("the company is called Crumb and Co", "Crumb and Co", False),
        ("Crumb and Co", "Crumb and Co", True),
        ("Rossi e Figli", "Rossi e Figli", True),
        ("Bloom and we want to handle orders", "Bloom", True),  # "and" before a clause ends the name
        ("Acme and co-workers", "Acme", True),
    ],
)
def test_and_co_and_sons_belong_to_the_name_and_the_companys_opens_it(
    text: str, company: str, asked: bool
) -> None:
    found = extract_company_name(text, asked=asked)
    assert found is not None
    assert found.value == company


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "hume isko use karna hai wedding orders ki booking aur payment reminders ke liye",
            "wedding orders ki booking aur payment reminders",
        ),
        ("نبيه عشان الرد على استفسارات الزباين، الضغط علينا كبير", "الرد على استفسارات الزباين"),
        (
            "quero usar pra receber encomendas de bolo pelo whats, hj faço tudo na mão",
            "receber encomendas de bolo pelo whats",
        ),
        ("we want it para pedidos para llevar, like takeout orders", "pedidos para llevar"),
        ("we zouden het graag gebruiken voor bestellingen van taarten", "bestellingen van taarten"),
        ("we'd like to use it for order updates, as our phone never stops ringing", "order updates"),
        (
            "looking at whatsapp for booking confirmations and sending quotes. budget's 50 quid",
            "booking confirmations and sending quotes",
        ),
    ],
)
def test_use_case_lead_ins_and_remarks_in_more_languages(text: str, use_case: str) -> None:
    assert _use_case_when_asked(text) == use_case


def test_an_apology_for_the_customers_own_delay_is_no_use_case() -> None:
    assert (
        extract_use_case("sorry been meaning to message for ages lol, things have been nuts", asked=True)
        is None
    )
    found = extract_use_case("sorry, we want it for order updates", asked=True)
    assert found is not None
    assert found.value == "order updates"


def test_a_business_described_with_an_article_or_a_use_case_lead_is_no_company_name() -> None:
    text = "We'd be using it for appointment reminders, we're a chain of 3 barbershops in Manchester"
    assert extract_company_name(text, asked=True) is None
    # A name opening the answer still counts when a use case's lead-in comes later.
    later = "Parcelpoint here, we're an ecommerce fulfilment company and want WhatsApp for alerts"
    found = extract_company_name(later, asked=True)
    assert found is not None
    assert found.value == "Parcelpoint"
    found = extract_company_name(
        "I run Tidy Nest Cleaning, looking at whatsapp for bookings", asked=False, unasked_weak=True
    )
    assert found is not None
    assert found.value == "Tidy Nest Cleaning"


def test_a_hinglish_use_case_after_the_company_loses_the_words_after_its_verb() -> None:
    values = _values(
        "humara Mehta Sweets hai, diwali orders ke liye bulk message bhejna hai customers ko", None
    )
    assert values["use_case"] == "diwali orders ke liye bulk message bhejna"


def test_the_companys_before_a_lowercase_word_is_no_name() -> None:
    assert extract_company_name("the company's website is down", asked=False) is None


@pytest.mark.parametrize("text", ["sou a thaís, moro em campinas", "I'm Freya", "omg ok so", "hmm well"])
def test_a_self_introduction_or_an_interjection_is_no_company_name(text: str) -> None:
    assert "company_name" not in _values(text, "company_name")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "does it matter if we're tiny? it's just me and my sister, Two Birds Ceramics",
            "Two Birds Ceramics",
        ),
        ("é pra minha clínica de estética, a Bella Pele", "Bella Pele"),
    ],
)
def test_asked_for_the_company_a_name_set_off_at_the_end_is_the_answer(text: str, name: str) -> None:
    assert _values(text, "company_name")["company_name"] == name


def test_information_for_their_customers_is_a_use_case_not_a_request_for_information() -> None:
    found = extract_fields("buat kasih info cucian udah selesai ke pelanggan", asking="use_case")
    assert {x.field: x.value for x in found}["use_case"] == "kasih info cucian udah selesai ke pelanggan"


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "Mainly appointment reminders to be honest, we get a lot of no-shows, though I suppose "
            "at some point we might use it for patient queries as well.",
            "appointment reminders",
        ),
        (
            "In erster Linie ginge es uns um Terminerinnerungen, langfristig vielleicht auch um mehr.",
            "Terminerinnerungen",
        ),
        (
            "what we really need is one place for project updates that management can also see",
            "one place for project updates",
        ),
        (
            "a ideia é receber encomendas pelo whats sem perder pedido, hoje fica tudo no celular",
            "receber encomendas pelo whats",
        ),
        ("Com certeza. Seria sobretudo para confirmação de reservas.", "confirmação de reservas"),
    ],
)
def test_a_use_case_after_polite_openings_primacy_words_and_relative_clauses(
    text: str, use_case: str
) -> None:
    assert _use_case_when_asked(text) == use_case


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "Gerne. Wir sind die Physiotherapie am Stadtpark GmbH aus Hannover, ca. 25 Mitarbeitende.",
            "Physiotherapie am Stadtpark GmbH",
        ),
        (
            "My name's Priya Shah, I'm based in Leeds. We're Northlane Logistics, about 120 staff.",
            "Northlane Logistics",
        ),
        ("PT Sinar Jaya Logistik kak, di Jakarta Utara", "PT Sinar Jaya Logistik"),
    ],
)
def test_the_whole_company_name_and_not_the_persons_or_the_town(text: str, name: str) -> None:
    assert _values(text, "company_name")["company_name"] == name


def test_a_request_for_information_is_no_company_name() -> None:
    assert "company_name" not in _values("info pls", "company_name")


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "booking confirmations mostly, and answering the same 10 questions all day lol",
            "booking confirmations",
        ),
        ("customer support ke liye chahiye, roz 200+ queries aati hain whatsapp pe", "customer support"),
    ],
)
def test_a_use_case_ends_before_a_second_item_or_a_daily_remark(text: str, use_case: str) -> None:
    assert _use_case_when_asked(text) == use_case


def test_mainly_something_is_the_use_case_even_when_the_company_was_asked() -> None:
    assert _values("Hauptsächlich Terminerinnerungen für Patienten", "company_name") == {
        "use_case": "Terminerinnerungen für Patienten"
    }
    assert _values("Mostly order tracking", "company_name") == {"use_case": "order tracking"}


def test_an_email_after_a_colon_is_a_contact_detail_not_the_company() -> None:
    text = "Bakkerij Visser, we willen het gebruiken voor bestellingen via WhatsApp. mail: info@visser.nl"
    assert _values(text, "company_name") == {
        "company_name": "Bakkerij Visser",
        "use_case": "bestellingen via WhatsApp",
        "email": "info@visser.nl",
    }
    assert _values("Ach so, sorry: Nordlicht Events", "company_name") == {"company_name": "Nordlicht Events"}


def test_a_name_with_an_ampersand_keeps_its_first_part() -> None:
    assert _values("Harper & Cole Ltd, we're a 12 person estate agency", "company_name")["company_name"] == (
        "Harper & Cole Ltd"
    )


def test_a_need_for_it_keeps_its_own_lead_in() -> None:
    assert _use_case_when_asked("we mainly need it for appointment reminders for our patients") == (
        "appointment reminders for our patients"
    )


def test_a_need_for_the_people_they_serve_is_the_use_case_unasked() -> None:
    assert _values("i'm from Kestrel Logistics, we need delivery status updates for our customers", None) == {
        "company_name": "Kestrel Logistics",
        "use_case": "delivery status updates for our customers",
    }


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("c'est pour Voyages Soleil, une agence de voyage", "Voyages Soleil"),
        ("for Kaya Dental, a small clinic in Leeds", "Kaya Dental"),
        ("es para Hotel Sol, un hotel pequeño", "Hotel Sol"),
    ],
)
def test_a_name_then_what_the_business_is_answers_the_company(text: str, company: str) -> None:
    assert _values(text, "company_name") == {"company_name": company}


@pytest.mark.parametrize(
    ("text", "asking", "company", "use_case"),
    [
        (
            "use case first: abandoned cart reminders for our shopify store",
            "company_name",
            None,
            "abandoned cart reminders for our shopify store",
        ),
        ("use case: abandoned cart reminders", "company_name", None, "abandoned cart reminders"),
        ("Use case - booking reminders", "use_case", None, "booking reminders"),
        (
            "Hi! We're O'Neill-Brady Dental Group and we'd like to use WhatsApp for appointment reminders",
            None,
            "O'Neill-Brady Dental Group",
            "appointment reminders",
        ),
        (
            "a gente quer usar pra confirmar agendamento das clientes, sou do Studio Bia Nails & Co 💅",
            "company_name",
            "Studio Bia Nails & Co",
            "confirmar agendamento das clientes",
        ),
    ],
)
def test_a_labelled_or_led_use_case_is_the_use_case(
    text: str, asking: str | None, company: str | None, use_case: str
) -> None:
    values = _values(text, asking)
    assert values.get("company_name") == company
    assert values["use_case"] == use_case


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("mostly quote requests from our website visitors", "quote requests from our website visitors"),
        ("price enquiries from walk-in customers", "price enquiries from walk-in customers"),
        (
            "parent communication, daily updates and pickup changes",
            "parent communication, daily updates and pickup changes",
        ),
        ("reservas, confirmaciones y recordatorios", "reservas, confirmaciones y recordatorios"),
    ],
)
def test_what_their_customers_ask_for_and_a_list_of_uses_are_kept_whole(text: str, use_case: str) -> None:
    assert _use_case_when_asked(text) == use_case


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("order updates, we have 300 customers and growing", "order updates"),
        ("booking reminders, daily around 200 and more on weekends", "booking reminders"),
    ],
)
def test_a_remark_after_the_use_case_is_no_item_of_a_list(text: str, use_case: str) -> None:
    assert _use_case_when_asked(text) == use_case


def test_asking_for_a_quote_is_still_no_use_case() -> None:
    assert "use_case" not in _values("i want a quote", "use_case")


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("3 Brothers Plumbing, LLC", "3 Brothers Plumbing, LLC"),
        ("Halcyon Lettings (UK) Ltd", "Halcyon Lettings (UK) Ltd"),
        ("oh and the name's Crumb & Co. (Leeds) Ltd", "Crumb & Co. (Leeds) Ltd"),
        ("nama usahanya PT. Maju-Jaya Abadi", "PT. Maju-Jaya Abadi"),
        ("Société Lemaire-Fils", "Société Lemaire-Fils"),
        ("empresa Silva", "Silva"),
        ("company: Acme", "Acme"),
        (
            "Salve, scrivo per conto dell'Agriturismo Il Poggiolo s.r.l. di Montepulciano",
            "Agriturismo Il Poggiolo s.r.l.",
        ),
        ("Gupta Sweets naam hai hamari dukaan ka", "Gupta Sweets"),
        ("bedrijfsnaam is Fietsenmakerij De Spaak", "Fietsenmakerij De Spaak"),
    ],
)
def test_legal_forms_prefixes_and_names_said_first_stay_with_the_name(text: str, company: str) -> None:
    assert _values(text, "company_name")["company_name"] == company


def test_a_name_in_parentheses_with_no_legal_form_after_it_is_a_remark() -> None:
    assert _values("Kaya Dental (the one in Leeds)", "company_name")["company_name"] == "Kaya Dental"


@pytest.mark.parametrize(
    ("text", "asking", "company"),
    [
        ("salt & sage catering co.", "company_name", "salt & sage catering co"),
        ("O'Neill Bros. Plumbing & Heating", "company_name", "O'Neill Bros. Plumbing & Heating"),
        ("Les Jardins d'Arthur", "company_name", "Les Jardins d'Arthur"),
        (
            "Hello, I'm the practice manager at St. Mary's Road Surgery, saw your ad on Facebook",
            None,
            "St. Mary's Road Surgery",
        ),
        ("Halo kak, saya dari PT Sinar Jaya Abadi", None, "PT Sinar Jaya Abadi"),
        (
            "Ciao! ho visto la vostra pubblicità, lavoro per Trattoria Da Gino a Bologna",
            None,
            "Trattoria Da Gino",
        ),
        ("Wij zijn De Spaak Fietsen uit Utrecht.", None, "De Spaak Fietsen"),
        ("Wij zijn Van Dijk Fietsen B.V. uit Utrecht", None, "Van Dijk Fietsen B.V."),
    ],
)
def test_lower_case_names_with_a_legal_form_roles_and_workplaces_give_the_company(
    text: str, asking: str | None, company: str
) -> None:
    assert _values(text, asking)["company_name"] == company


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "Hi! Keen to use this for cart abandonment reminders for our online store, Koala Kids Co",
            "cart abandonment reminders for our online store",
        ),
        (
            "Wir möchten WhatsApp für Terminabsprachen mit Kunden und Angebotsanfragen nutzen",
            "Terminabsprachen mit Kunden und Angebotsanfragen",
        ),
        ("we willen WhatsApp gebruiken voor reparatie-updates aan klanten", "reparatie-updates aan klanten"),
        (
            "queremos usar pra atendimento de orçamentos, o pessoal manda foto da peça e a gente responde",
            "atendimento de orçamentos",
        ),
        (
            "a empresa é a Mundo Pet Rações, a gente quer automatizar os pedidos de delivery",
            "automatizar os pedidos de delivery",
        ),
        (
            "We need a shared inbox for our 12 support agents, currently everyone's on separate phones",
            "a shared inbox for our 12 support agents",
        ),
    ],
)
def test_the_use_case_leaves_out_the_channel_verb_the_company_and_a_remark(text: str, use_case: str) -> None:
    assert _values(text, None)["use_case"] == use_case


def test_an_answer_that_names_the_main_thing_gives_the_thing() -> None:
    text = "Honestly the main thing is driver ETA updates to customers. At the moment drivers text people"
    assert _use_case_when_asked(text) == "driver ETA updates to customers"


@pytest.mark.parametrize(
    ("text", "asking", "company"),
    [
        (
            "Bonjour, je suis la responsable administrative du Cabinet Moreau & Associés, à Lyon",
            None,
            "Cabinet Moreau & Associés",
        ),
        (
            "Hi, I'm Sophie, operations lead at Kestrel Removals (Bristol). We want a shared inbox",
            None,
            "Kestrel Removals",
        ),
        (
            "Ich bin Praxismanagerin bei der Physiotherapie Bergblick in Innsbruck",
            "company_name",
            "Physiotherapie Bergblick",
        ),
        ("It's Marlow's Garden Centre, we're out in Stroud", "company_name", "Marlow's Garden Centre"),
        ("O restaurante chama-se Tasca do Zé, em Braga", "company_name", "Tasca do Zé"),
        (
            "mira tenemos una heladeria en rosario que se llama la esquina del gusto jaja",
            "company_name",
            "la esquina del gusto",
        ),
        ("im with brickhouse fitness, 3 gyms, like 25 staff", "company_name", "brickhouse fitness"),
        (
            "Hoi! we willen klantvragen over bezorging automatiseren, bedrijf is Fietsenmaker Bakker",
            None,
            "Fietsenmaker Bakker",
        ),
    ],
)
def test_roles_answers_opened_by_it_is_and_names_said_with_laughter_give_the_company(
    text: str, asking: str | None, company: str
) -> None:
    assert _values(text, asking)["company_name"] == company


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "Firma: Alpentech AG, ca. 120 Leute. Einsatz: Kundensupport für unsere Heizungssteuerungen.",
            "Kundensupport für unsere Heizungssteuerungen",
        ),
        (
            "Servus, wir suchen was, um Terminerinnerungen für unsere Patienten zu verschicken",
            "Terminerinnerungen für unsere Patienten zu verschicken",
        ),
        (
            "Olá, procuramos uma solução para confirmar reservas de mesa pelo WhatsApp",
            "confirmar reservas de mesa pelo WhatsApp",
        ),
        (
            "main Sandeep, Krishna Agro se. farmers ko mandi rates aur order updates bhejne ke liye chahiye",
            "farmers ko mandi rates aur order updates bhejne",
        ),
        (
            "We want a shared inbox for quote requests, there's 4 of us replying and we keep doubling up",
            "a shared inbox for quote requests",
        ),
    ],
)
def test_labels_searches_for_a_tool_and_needs_said_in_hinglish_give_the_use_case(
    text: str, use_case: str
) -> None:
    assert _values(text, None)["use_case"] == use_case


@pytest.mark.parametrize(
    "text", ["does it support multiple agents", "sorry what do you mean by use case lol", "Très bien"]
)
def test_a_question_or_an_ok_answers_neither_field(text: str) -> None:
    assert _values(text, "company_name") == {}
    assert _values(text, "use_case") == {}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("ridgeway auto repair", "ridgeway auto repair"),
        ("kowalski plumbing and heating", "kowalski plumbing and heating"),
        ("Marsh Heating and Plumbing", "Marsh Heating and Plumbing"),
        ("la casa del pan", "la casa del pan"),
        ("taller del norte", "taller del norte"),
    ],
)
def test_a_short_answer_ending_in_its_trade_is_the_company_lowercase_or_not(text: str, company: str) -> None:
    assert _values(text, "company_name") == {"company_name": company}


@pytest.mark.parametrize(
    "text", ["appointment reminders for the salon", "order updates for our bakery", "envío de pedidos"]
)
def test_what_they_want_for_their_business_is_still_a_use_case(text: str) -> None:
    assert set(_values(text, "company_name")) == {"use_case"}


@pytest.mark.parametrize(
    ("text", "company", "use_case"),
    [
        (
            "We're a charity, Northside Food Bank, and we want to coordinate volunteer shifts",
            "Northside Food Bank",
            "coordinate volunteer shifts",
        ),
        (
            "Para gestionar reservas de mesas. Somos Restaurante Costa Azul",
            "Restaurante Costa Azul",
            "gestionar reservas de mesas",
        ),
        (
            "Good morning. I'm writing from Kiran Textiles, we need it for sending dispatch updates",
            "Kiran Textiles",
            "sending dispatch updates",
        ),
    ],
)
def test_a_name_beside_what_they_are_or_after_what_it_is_for_gives_both_fields(
    text: str, company: str, use_case: str
) -> None:
    assert _values(text, "company_name") == {"company_name": company, "use_case": use_case}


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("hey so basically its for class bookings and reminders", "class bookings and reminders"),
        ("A ideia é fazer orçamento de serviços pelo WhatsApp", "fazer orçamento de serviços pelo WhatsApp"),
        ("the plan is to send delivery slots to customers", "send delivery slots to customers"),
    ],
)
def test_a_greeting_or_the_idea_before_the_use_case_is_left_out(text: str, use_case: str) -> None:
    assert _values(text, "use_case") == {"use_case": use_case}
    assert _values(text, "company_name") == {"use_case": use_case}


def test_a_lone_greeting_is_no_company() -> None:
    assert _values("g'day", "company_name") == {}


@pytest.mark.parametrize(
    ("text", "company", "use_case"),
    [
        (
            "so I run Pinewood Garage and we want to remind customers about MOT dates is that something u do",
            "Pinewood Garage",
            "remind customers about MOT dates",
        ),
        (
            "nous c'est Fromagerie Dubois euh on voudrait envoyer les rappels de commande",
            "Fromagerie Dubois",
            "envoyer les rappels de commande",
        ),
        (
            "hamari company ka naam Sharma Opticals hai, use case hai eye test reminders bhejna",
            "Sharma Opticals",
            "eye test reminders bhejna",
        ),
    ],
)
def test_fillers_a_trailing_question_and_a_use_case_label_are_left_out(
    text: str, company: str, use_case: str
) -> None:
    assert _values(text, "company_name") == {"company_name": company, "use_case": use_case}


@pytest.mark.parametrize(
    ("text", "company", "use_case"),
    [
        (
            "firmamız Deniz Turizm, rezervasyon hatırlatmaları göndermek için kullanmak istiyoruz",
            "Deniz Turizm",
            "rezervasyon hatırlatmaları göndermek",
        ),
        (
            "nazwa firmy to Zielony Ogród, chcemy go używać do przyjmowania zamówień",
            "Zielony Ogród",
            "przyjmowania zamówień",
        ),
    ],
)
def test_turkish_and_polish_leads_give_both_fields(text: str, company: str, use_case: str) -> None:
    assert _values(text, "company_name") == {"company_name": company, "use_case": use_case}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("we're called Needle and Fern its a small craft shop", "Needle and Fern"),
        ("Hartley and Moss Ltd", "Hartley and Moss Ltd"),
        ("Acme and we sell shoes", "Acme"),
    ],
)
def test_and_between_two_capitalised_words_stays_in_the_name(text: str, company: str) -> None:
    assert _values(text, "company_name")["company_name"] == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("oops typo, it's Brightwell Optics with two Ls", "Brightwell Optics"),
        ("perdón, me equivoqué: es Ferretería San Martín", "Ferretería San Martín"),
        ("Tippfehler, es ist Bäckerei Sonnenschein", "Bäckerei Sonnenschein"),
    ],
)
def test_a_corrected_company_name_replaces_the_one_given_before(text: str, company: str) -> None:
    found = extract_fields(text, asking="use_case", known=frozenset({"company_name"}))
    assert [(x.field, x.value) for x in found] == [("company_name", company)]


@pytest.mark.parametrize(
    ("text", "company", "use_case"),
    [
        (
            "Company: Larkspur Books / Use case: telling readers about signings",
            "Larkspur Books",
            "telling readers about signings",
        ),
        (
            "Bonjour, je suis chez Garage Martin SARL, on cherche à envoyer les devis par WhatsApp",
            "Garage Martin SARL",
            "envoyer les devis par WhatsApp",
        ),
    ],
)
def test_a_slash_between_labels_and_on_cherche_a_split_the_fields(
    text: str, company: str, use_case: str
) -> None:
    assert _values(text, None) == {"company_name": company, "use_case": use_case}


def test_a_name_with_a_number_introducing_the_writer_is_the_company() -> None:
    assert _values("Unit 4 Coffee Roasters here, do you offer a trial?", "company_name") == {
        "company_name": "Unit 4 Coffee Roasters"
    }


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("alright, sure. Harbour Lights Bistro", "Harbour Lights Bistro"),
        ("ok thanks! Pixel Forge", "Pixel Forge"),
    ],
)
def test_an_acknowledgement_sentence_before_the_asked_name_is_left_out(text: str, company: str) -> None:
    assert _values(text, "company_name") == {"company_name": company}


@pytest.mark.parametrize(
    ("text", "company", "use_case"),
    [
        (
            "Wir sind die Bäckerei Sommer KG, wollen Bestellungen per WhatsApp annehmen",
            "Bäckerei Sommer KG",
            "Bestellungen per WhatsApp annehmen",
        ),
        (
            "Somos Óptica Norte, queremos recordar citas a los clientes",
            "Óptica Norte",
            "recordar citas a los clientes",
        ),
    ],
)
def test_a_want_after_the_name_and_a_comma_is_the_use_case(text: str, company: str, use_case: str) -> None:
    assert _values(text, "company_name") == {"company_name": company, "use_case": use_case}


@pytest.mark.parametrize(
    "text",
    [
        "we're a small vet clinic",
        "somos una agencia de viajes",
        "thanks, I'll have a look later tonight",
        "ahora no puedo, luego te escribo",
        "ok makes sense, thanks",
    ],
)
def test_what_the_business_is_a_deferral_or_an_ok_is_no_use_case(text: str) -> None:
    assert "use_case" not in _values(text, "use_case")


def test_small_talk_about_the_ad_is_no_company_name() -> None:
    assert _values("came from the ad about the chatbot", "company_name") == {}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Demir Lojistik A.Ş.", "Demir Lojistik A.Ş."),
        ("firma to Piekarnia Nowak", "Piekarnia Nowak"),
        ("मेरी दुकान का नाम गुप्ता स्वीट्स है", "गुप्ता स्वीट्स"),
    ],
)
def test_turkish_polish_and_devanagari_company_names(text: str, company: str) -> None:
    assert _values(text, "company_name") == {"company_name": company}


def test_a_want_opening_the_second_sentence_is_the_use_case() -> None:
    assert _values("florist. want to send delivery updates to buyers", "use_case") == {
        "use_case": "send delivery updates to buyers"
    }


def test_quotes_they_follow_up_are_a_use_case_not_a_request_for_one() -> None:
    assert _values("We're Oakline Joinery and we'd use it for quote follow-ups", "company_name") == {
        "company_name": "Oakline Joinery",
        "use_case": "quote follow-ups",
    }


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Just Ask Sam Electrical", "Just Ask Sam Electrical"),
        ("The Good Food Company", "The Good Food Company"),
        ("We Move It Removals", "We Move It Removals"),
        ("lol you bots don't waste time huh. Tidewater Kayak Tours", "Tidewater Kayak Tours"),
        ("hey, saw the ad. Orchard Lane Bakery, we bake for cafes", "Orchard Lane Bakery"),
        ("company ka naam Sharma Traders hai", "Sharma Traders"),
        ("Bright Path - no wait, Bright Path Tutoring", "Bright Path Tutoring"),
    ],
)
def test_a_title_case_trade_name_a_last_sentence_or_a_name_put_right_is_the_company(
    text: str, company: str
) -> None:
    assert _values(text, "company_name").get("company_name") == company


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "firma Piekarnia Złoty Kłos, chcemy przyjmować zamówienia na torty",
            "przyjmować zamówienia na torty",
        ),
        ("nama tokonya Batik Sari, mau buat kirim notifikasi pesanan", "kirim notifikasi pesanan"),
        (
            "we need something so our drivers can see new jobs in one place",
            "our drivers can see new jobs in one place",
        ),
    ],
)
def test_polish_indonesian_and_english_leads_to_a_use_case(text: str, use_case: str) -> None:
    assert _values(text, "company_name").get("use_case") == use_case


@pytest.mark.parametrize(
    "text",
    [
        "let me have a think and come back to u",
        "tengo que hablarlo con mi jefe primero",
        "je vous redis ça demain, on est encore en réflexion",
        "daar moet ik even over nadenken",
        "not sure yet tbh",
        "todavía no lo sé",
        "I'd rather not say the company name yet",
        "prefiero no decir el nombre por ahora",
        "haha loved your ad",
        "the weather is awful here today, raining all morning",
        "aap kaun ho pehle batao",
    ],
)
def test_putting_it_off_not_saying_and_small_talk_are_no_field(text: str) -> None:
    assert _values(text, "company_name") == {}
    assert _values(text, "use_case") == {}


def test_a_use_case_said_before_a_request_in_the_same_message_is_kept() -> None:
    text = "appointment reminders for our patients. can someone call me to set it up?"
    assert _use_case_when_asked(text) == "appointment reminders for our patients"


def test_an_apology_and_a_clearly_led_name_correct_the_company_given_before() -> None:
    found = extract_fields(
        "perdón, en realidad la empresa es Ferretería Gómez Hnos. SRL",
        asking="use_case",
        known=frozenset({"company_name"}),
    )
    assert [(x.field, x.value) for x in found] == [("company_name", "Ferretería Gómez Hnos. SRL")]


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Hello Fresh Meals", "Hello Fresh Meals"),
        ("Namaste Wellness", "Namaste Wellness"),
        ("Ciao Bella Gelato 😄 yes that's really the name", "Ciao Bella Gelato"),
    ],
)
def test_a_name_that_opens_with_a_greeting_word_keeps_it(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("sorry typo — Harbour Freight Solutions Ltd", "Harbour Freight Solutions Ltd"),
        ("desculpe, é Padaria Pão Dourado Lda", "Padaria Pão Dourado Lda"),
        ("pardon Deniz Ev Tekstili", "Deniz Ev Tekstili"),
    ],
)
def test_an_apology_then_a_name_corrects_the_company(text: str, company: str) -> None:
    found = extract_fields(text, asking="use_case", known=frozenset({"company_name"}))
    assert [(x.field, x.value) for x in found] == [("company_name", company)]


def test_a_confirmation_keeps_the_use_case_said_after_it() -> None:
    found = _values("evet firmanın adı bu 😊 otel rezervasyonları ve misafir soruları için", "use_case")
    assert found == {"use_case": "otel rezervasyonları ve misafir soruları"}


@pytest.mark.parametrize(
    "text",
    [
        "before I answer that, what are your opening hours",
        "je voudrais d'abord savoir s'il y a un essai gratuit",
        "primero quiero saber si hay prueba gratis",
    ],
)
def test_a_question_inside_a_sentence_is_no_field(text: str) -> None:
    assert _values(text, "company_name") == {}


def test_a_question_their_customers_ask_is_part_of_a_use_case() -> None:
    text = "answering customers who ask what are your opening hours"
    assert _values(text, "company_name") == {"use_case": text}


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "hej, potrzebujemy wspólnej skrzynki dla zespołu sprzedaży",
            "wspólnej skrzynki dla zespołu sprzedaży",
        ),
        (
            "firmamız Deniz Lojistik, kargo takibini whatsapp'tan yapmak istiyoruz",
            "kargo takibini whatsapp'tan yapmak",
        ),
    ],
)
def test_polish_we_need_and_turkish_we_want_to_lead_a_use_case(text: str, use_case: str) -> None:
    assert _values(text, "company_name").get("use_case") == use_case


@pytest.mark.parametrize(
    "text",
    [
        "sorry my kid took the phone haha",
        "jaja perdón, estaba manejando",
        "kkk desculpa, esqueci de me apresentar",
        "sorki, klient wszedł do sklepu",
        "oh sorry was in a meeting",
    ],
)
def test_an_apology_for_the_customers_own_doing_answers_nothing(text: str) -> None:
    assert extract_fields(text, asking="use_case", known=frozenset({"company_name"})) == []
    assert extract_fields(text, asking="company_name") == []


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("sorry, mainly for table bookings", "table bookings"),
        ("oops sorry, for order updates", "order updates"),
    ],
)
def test_an_apology_before_a_led_use_case_keeps_the_use_case(text: str, use_case: str) -> None:
    assert _values(text, "use_case") == {"use_case": use_case}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("perdón, Panadería La Espiga, que escribo rapidísimo", "Panadería La Espiga"),
        ("oops autocorrect, its Brookfeld Plumbing w/ one i", "Brookfeld Plumbing"),
        ("oh wacht, Bakkerij Zonnebloem bedoel ik", "Bakkerij Zonnebloem"),
        ("sorry, Harbour View Dental I mean", "Harbour View Dental"),
    ],
)
def test_a_correction_takes_the_name_beside_its_cue(text: str, company: str) -> None:
    found = extract_fields(text, asking="use_case", known=frozenset({"company_name"}))
    assert [(x.field, x.value, x.correction) for x in found] == [("company_name", company, True)]


def test_a_use_case_corrected_in_the_same_message_keeps_what_follows() -> None:
    text = "pour les rappels de rendez-vous... non pardon, pour les commandes de gâteaux en fait"
    assert _values(text, "use_case") == {"use_case": "les commandes de gâteaux"}


@pytest.mark.parametrize(
    ("text", "company", "use_case"),
    [
        (
            "ok sounds good. Riverbend Outfitters, we'd use it for rental bookings",
            "Riverbend Outfitters",
            "rental bookings",
        ),
        (
            "salut on est une boulangerie, Maison Dorée, on voudrait prendre les commandes",
            "Maison Dorée",
            "prendre les commandes",
        ),
    ],
)
def test_a_name_before_a_led_use_case_answers_the_company(text: str, company: str, use_case: str) -> None:
    assert _values(text, "company_name") == {"company_name": company, "use_case": use_case}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("ah tá. a gente é a Floricultura Jardim Azul", "Floricultura Jardim Azul"),
        ("dobra. Kancelaria Nowak", "Kancelaria Nowak"),
        ("اسمها عيادة د. سارة للجلدية", "عيادة د. سارة للجلدية"),
        ("مرحبا، معك شركة الريادة للتجارة", "شركة الريادة للتجارة"),
    ],
)
def test_company_lead_ins_of_everyday_speech(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("hallo, voor afspraken met klanten", "afspraken met klanten"),
        ("hi, for delivery updates", "delivery updates"),
        ("selam, randevu hatırlatmaları için lazım", "randevu hatırlatmaları"),
        ("Bonjour ! c'est pour les commandes du traiteur", "commandes du traiteur"),
        ("Namaste, hum Gupta Sweets se hain, bulk orders lene ke liye chahiye", "bulk orders lene"),
        ("we'd like to send booking reminders - company is Oakleaf Spa", "send booking reminders"),
        ("Guten Tag\nFirma: Bäckerei Sommer\nWofür: Vorbestellungen annehmen", "Vorbestellungen annehmen"),
    ],
)
def test_unasked_use_cases_after_a_greeting_or_a_label(text: str, use_case: str) -> None:
    assert _values(text, None).get("use_case") == use_case


@pytest.mark.parametrize("text", ["hi, for the trial how long is it", "hola, para saber el precio"])
def test_a_greeting_then_a_question_is_no_use_case(text: str) -> None:
    assert _values(text, None) == {}


@pytest.mark.parametrize("text", ["one sec", "even wachten hoor", "ok lo platico con mi socio", "bentar ya"])
def test_a_pause_answers_nothing(text: str) -> None:
    assert _values(text, "use_case") == {}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        # Legal forms of more countries, and their two-part forms.
        ("Padaria Estrela do Norte Lda", "Padaria Estrela do Norte Lda"),
        ("Nordic Fjord Travel ApS", "Nordic Fjord Travel ApS"),
        ("Lion City Movers Pte Ltd", "Lion City Movers Pte Ltd"),
        ("Kedai Kopi Mawar Sdn Bhd", "Kedai Kopi Mawar Sdn Bhd"),
        ("Schreinerei Vogt GmbH & Co. KG", "Schreinerei Vogt GmbH & Co. KG"),
        ("Öztürk Tekstil Ltd. Şti.", "Öztürk Tekstil Ltd. Şti."),
        # A particle of a family name inside a company name.
        ("Van den Broek Schilderwerken BV", "Van den Broek Schilderwerken BV"),
        # The trade after "& Co" or "& Sons" is part of the name.
        ("Patel & Co Solicitors", "Patel & Co Solicitors"),
        ("Baker & Sons Removals, we move offices", "Baker & Sons Removals"),
        # Who is writing comes first; the company after the comma.
        ("Chamo-me Rui Costa, da Adega Monte Branco Lda", "Adega Monte Branco Lda"),
    ],
)
def test_company_names_with_legal_forms_and_particles_keep_every_part(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        # What the business is first, then its name after a naming word.
        ("usaha kami bengkel motor, namanya Jaya Motor Sentosa", "Jaya Motor Sentosa"),
        # After a description and a dash or a colon.
        ("We're a family-run garage - Hillside Motors & Tyres", "Hillside Motors & Tyres"),
        ("we are a dental practice: Brightsmile Family Dental", "Brightsmile Family Dental"),
    ],
)
def test_a_name_said_after_what_the_business_is(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Berichtigung: wir heißen seit März Keller & Söhne GmbH", "Keller & Söhne GmbH"),
        ("correction: we're called Tidewater Kayaks now", "Tidewater Kayaks"),
        ("correção: é Ótica Visão Clara Lda", "Ótica Visão Clara Lda"),
    ],
)
def test_a_correction_in_any_language_replaces_the_company_given_before(text: str, company: str) -> None:
    [found] = extract_fields(text, asking="use_case", known=frozenset({"company_name"}))
    assert (found.field, found.value, found.correction) == ("company_name", company, True)


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("queria usar o WhatsApp pra confirmar entregas", "confirmar entregas"),
        ("quisiéramos usar el whatsapp para tomar pedidos", "tomar pedidos"),
        ("honestly we need the bot to answer opening hours questions", "answer opening hours questions"),
    ],
)
def test_what_the_tool_should_do_is_the_use_case(text: str, use_case: str) -> None:
    assert _values(text, None).get("use_case") == use_case


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        ("orçamento de reformas pelo whatsapp", "orçamento de reformas pelo whatsapp"),
        ("presupuestos de mudanzas por whatsapp", "presupuestos de mudanzas por whatsapp"),
    ],
)
def test_quotes_they_give_over_whatsapp_are_a_use_case_not_a_request_for_one(
    text: str, use_case: str
) -> None:
    assert _values(text, "use_case") == {"use_case": use_case}


def test_a_bare_request_for_a_quote_is_still_no_use_case() -> None:
    assert _values("quero um orçamento", "use_case") == {}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Wir sind die Schulze & Söhne GmbH & Co. KG", "Schulze & Söhne GmbH & Co. KG"),
        ("company: Mehran Textiles (Pvt.) Ltd", "Mehran Textiles (Pvt.) Ltd"),
        ("Công ty TNHH Thực Phẩm Xanh Việt", "Thực Phẩm Xanh Việt"),
        ("Soy la Lic. Herrera de Distribuidora Herrera y Hermanos", "Distribuidora Herrera y Hermanos"),
    ],
)
def test_a_name_with_a_long_legal_form_a_prefix_or_a_title_before_it_is_kept_whole(
    text: str, company: str
) -> None:
    assert _values(text, "company_name").get("company_name") == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("we are textile exporters, Chittagong Fabric Links", "Chittagong Fabric Links"),
        ('somos una clínica dental, "Sonrisas del Valle"', "Sonrisas del Valle"),
        ("kami mau buat pengingat jadwal, nama tokonya Sinar Abadi Elektronik", "Sinar Abadi Elektronik"),
    ],
)
def test_the_name_after_what_the_business_is_is_the_company(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


def test_where_the_business_is_is_no_name_after_a_description() -> None:
    assert (
        _values("we are based in Leeds, West Yorkshire", "company_name").get("company_name")
        != "West Yorkshire"
    )


@pytest.mark.parametrize(
    "text", ["quisiera info del anuncio", "quero mais informações do anúncio", "mau info dong kak"]
)
def test_asking_for_information_about_the_ad_is_no_company_name(text: str) -> None:
    assert "company_name" not in _values(text, "company_name")


def test_a_person_giving_their_own_name_gives_no_company_and_no_use_case() -> None:
    assert _values("je m'appelle Claire Martin", "company_name") == {}
    assert _values("je m'appelle Claire Martin", "use_case") == {}


def test_who_in_their_team_wants_it_is_not_part_of_the_use_case() -> None:
    assert _values("our manager wants it for confirming delivery slots", "use_case") == {
        "use_case": "confirming delivery slots"
    }


def test_their_own_catalogue_over_whatsapp_is_a_use_case_and_asking_for_ours_is_not() -> None:
    assert _values("queremos mostrar un catálogo por whatsapp", "use_case").get("use_case")
    catalogue = "un catálogo por whatsapp"
    assert _values("queremos un catálogo por whatsapp", "use_case") == {"use_case": catalogue}
    assert _values("quiero el catálogo", "use_case") == {}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("kedai kami nama Roti Canai Pak Mat", "Roti Canai Pak Mat"),
        ("kampuni yetu ni Mama Mboga Supplies", "Mama Mboga Supplies"),
        ("bên em là Cửa Hàng Gốm Bát Tràng", "Cửa Hàng Gốm Bát Tràng"),
    ],
)
def test_the_name_after_a_malay_swahili_or_vietnamese_lead_in_is_the_company(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


def test_wanting_to_send_something_to_their_customers_in_indonesian_is_a_use_case() -> None:
    assert _values("halo, mau kirim pengingat bayar ke pelanggan lewat WA", None) == {
        "use_case": "kirim pengingat bayar ke pelanggan lewat WA"
    }
    assert _values("mau kirim foto produknya kak?", None) == {}


@pytest.mark.parametrize("text", ["d'accord", "massa", "D'accord."])
def test_an_ok_in_french_or_brazilian_slang_is_no_company_name(text: str) -> None:
    assert _values(text, "company_name") == {}


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Chị tên Thu, bên công ty Gốm Sứ Minh Long", "Gốm Sứ Minh Long"),
        ("anh làm ở Công ty TNHH Vận Tải Phương Nam", "Vận Tải Phương Nam"),
        ("em làm việc tại Shop Mẹ Bắp nha", "Mẹ Bắp"),
        ("TNHH Bao Bì Đông Á", "Bao Bì Đông Á"),
    ],
)
def test_where_a_vietnamese_customer_works_names_the_company(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("hamari clinic hai - Shifa Dental Care", "Shifa Dental Care"),
        ("we run a small gym – Iron Temple Fitness", "Iron Temple Fitness"),
        ("apna dhaba hai, Sher-e-Punjab Dhaba naam se", "Sher-e-Punjab Dhaba"),
        ("hamari shop Noor Collection naam se chalti hai", "Noor Collection"),
    ],
)
def test_a_name_set_off_by_a_dash_or_given_by_the_name_is_the_company(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "organizzare i turni delle pulizie, adesso mandiamo tutto su un gruppo",
            "organizzare i turni delle pulizie",
        ),
        (
            "Rückrufe für die Werkstatt planen, aktuell schreiben wir alles auf Zettel",
            "Rückrufe für die Werkstatt planen",
        ),
        ("gérer les réservations du salon, là on fait tout par téléphone", "gérer les réservations du salon"),
        (
            "so the front desk can reply from one inbox instead of three phones",
            "the front desk can reply from one inbox",
        ),
        ("chị muốn gửi lịch hẹn cho khách qua Zalo", "chị muốn gửi lịch hẹn cho khách qua Zalo"),
    ],
)
def test_how_it_is_done_now_is_context_not_part_of_the_use_case(text: str, use_case: str) -> None:
    assert _values(text, "use_case").get("use_case") == use_case


def test_an_acknowledgement_left_after_the_cut_is_no_use_case() -> None:
    assert "use_case" not in _values("d'accord, merci, je regarde ça demain", "use_case")


def test_a_vietnamese_answer_saying_what_they_want_is_no_company() -> None:
    assert "company_name" not in _values("em muốn nhận đơn hàng qua WhatsApp", "company_name")


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("nombre de la empresa? Ferretería Los Pinos", "Ferretería Los Pinos"),
        ("şirket adı mı? Deniz Lojistik", "Deniz Lojistik"),
        ("é a Confeitaria Doce Lar", "Confeitaria Doce Lar"),
        ("somos Taller Mecánico Ruiz en Sevilla", "Taller Mecánico Ruiz"),
        ("c'est la boutique Fil Rouge à Rennes", "Fil Rouge"),
        ("Bakker en Zonen", "Bakker en Zonen"),
    ],
)
def test_the_question_asked_back_a_copula_or_the_town_is_not_part_of_the_name(
    text: str, company: str
) -> None:
    assert _values(text, "company_name").get("company_name") == company


def test_the_sentence_after_an_apology_can_answer() -> None:
    assert _values("sorry, crazy morning. mostly booking reminders for the salon", "use_case") == {
        "use_case": "booking reminders for the salon"
    }
    # After a request of their own, it does not.
    assert _values("sorry, can someone call me? rather explain by phone", "company_name") == {}


def test_seen_is_an_acknowledgement_not_a_use_case() -> None:
    assert "use_case" not in _values("ok seen", "use_case")


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("Berber dükkanım var, adı Usta Hakan Berber, randevu almak istiyorum", "Usta Hakan Berber"),
        ("mình có tiệm bánh nhỏ, tên là Bánh Mì Cô Ba", "Bánh Mì Cô Ba"),
        ("c'est pour notre boulangerie Le Fournil Doré, on veut prendre les commandes", "Le Fournil Doré"),
        (
            "Le escribe la hermana Lucía de la Fundación Manos Unidas, queremos avisar a los voluntarios",
            "Fundación Manos Unidas",
        ),
        ("hi, this is the office manager at Greenway Physio, we need booking reminders", "Greenway Physio"),
        ("Dr. Amaka Obi here. We run Sunrise Family Clinic, Enugu.", "Sunrise Family Clinic"),
    ],
)
def test_a_name_given_after_what_it_is_who_writes_or_their_role_is_the_company(
    text: str, company: str
) -> None:
    assert (
        _values(text, None).get("company_name") == company
        or _values(text, "company_name").get("company_name") == company
    )


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        (
            "I want the whatsapp bot for my shop to answer customers about delivery times",
            "answer customers about delivery times",
        ),
        (
            "we want parents to be able to report absences on whatsapp",
            "parents to be able to report absences on whatsapp",
        ),
        (
            "Need order tracking and delivery updates on WhatsApp for our buyers.",
            "order tracking and delivery updates on WhatsApp for our buyers",
        ),
    ],
)
def test_what_they_want_the_bot_or_their_people_to_do_is_the_use_case_unasked(
    text: str, use_case: str
) -> None:
    assert _values(text, None).get("use_case") == use_case


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("My name is Ada Okafor, Head of Operations at QuickHaul Express, Lagos", "QuickHaul Express"),
        ("Evening. Rob, ops manager at Harbour Freight Services", "Harbour Freight Services"),
        ("sou a Carla, gerente de loja da Ótica Bela Vista", "Ótica Bela Vista"),
        ("my business na Mama Titi Foods, Ibadan", "Mama Titi Foods"),
    ],
)
def test_a_job_title_then_where_names_the_company(text: str, company: str) -> None:
    assert _values(text, "company_name").get("company_name") == company


def test_an_email_with_a_remark_is_no_use_case() -> None:
    email = "maria@brightsmiles.co.uk"
    assert _values(f"{email} if you need it", "use_case") == {"email": email}


def test_want_our_people_to_or_pidgin_wan_make_is_the_use_case() -> None:
    assert _values("want our drivers to get job details on whatsapp", None).get("use_case") == (
        "our drivers to get job details on whatsapp"
    )
    assert _values("I wan make customers fit track their orders", "use_case").get("use_case") == (
        "customers fit track their orders"
    )


@pytest.mark.parametrize(
    ("text", "company"),
    [
        (
            "para sa bakery namin, Tinapay ni Lola sa Iloilo, gusto namin ng order reminders",
            "Tinapay ni Lola",
        ),
        ("ay sorry, Kulot Hair Studio po yung name", "Kulot Hair Studio"),
        ("sawa, ni Duka la Baraka Hardware", "Duka la Baraka Hardware"),
        ("el markaz esmo Nile Physio", "Nile Physio"),
        (
            "SOMOS FERRETERIA EL CLAVO Y QUEREMOS MANDAR OFERTAS A LOS CLIENTES POR WHATSAPP",
            "FERRETERIA EL CLAVO",
        ),
    ],
)
def test_a_trade_with_a_postposed_our_a_name_then_its_label_and_a_shouted_name_are_read(
    text: str, company: str
) -> None:
    assert _values(text, "company_name").get("company_name") == company


def test_a_name_corrected_in_hinglish_replaces_the_first() -> None:
    found = extract_fields(
        "sorry galat likha, Shree Ganesh Textiles hai", asking="use_case", known=frozenset({"company_name"})
    )
    assert [(f.field, f.value, f.correction) for f in found] == [
        ("company_name", "Shree Ganesh Textiles", True)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "je vous écris suite à votre annonce sur facebook",
        "i'm just a freelance baker, does that count as a business",
        "on est une association, pas une entreprise, c'est possible quand même ?",
    ],
)
def test_the_ad_mentioned_or_a_question_asked_back_answers_neither_question(text: str) -> None:
    assert _values(text, "company_name") == {}


@pytest.mark.parametrize(
    ("text", "asking", "use_case"),
    [
        (
            "gusto namin mag-send ng payment reminders sa mga tenants",
            None,
            "mag-send ng payment reminders sa mga tenants",
        ),
        (
            "appointment bookings and reschedules on whatsapp",
            "company_name",
            "appointment bookings and reschedules on whatsapp",
        ),
        (
            "o nome é Casa Nori e a gente queria receber as encomendas pelo whatsapp",
            None,
            "receber as encomendas pelo whatsapp",
        ),
        (
            "not sure yet... mostly clients message me for prices and free slots and i lose track",
            "use_case",
            "clients message me for prices and free slots and i lose track",
        ),
    ],
)
def test_tagalog_wants_a_task_on_whatsapp_and_an_answer_after_a_hedge_are_the_use_case(
    text: str, asking: str | None, use_case: str
) -> None:
    assert _values(text, asking).get("use_case") == use_case


def test_gusto_ko_to_talk_or_to_know_is_no_use_case() -> None:
    assert "use_case" not in _values("gusto ko po makausap ang tao", None)
    assert "use_case" not in _values("gusto ko malaman ang presyo", None)


def test_where_they_are_after_on_est_is_no_company() -> None:
    assert _values("on est à Dakar. c'est pour prévenir les parents", "use_case") == {
        "use_case": "prévenir les parents"
    }
