"""What real customers type: requests for a person by meaning (rejecting the bot, asking whether a
person is there, call-back requests, typos), frustration without angry words (capitals about a
problem, sarcasm, threats), greetings and small talk in every language, and qualification answers
given in any order."""

from __future__ import annotations

import pytest

from agents.extract import extract_fields, looks_like_use_case
from agents.sentinel.basics import (
    is_acknowledgement,
    is_announcement,
    is_greeting,
    is_pleasantry,
    is_question,
    strip_social,
)
from agents.sentinel.detectors import detect_explicit_request, detect_negated_request
from agents.sentinel.frustration import detect_frustration
from agents.sentinel.node import FRUSTRATION_THRESHOLD

CALL = {"call back", "call me"}


def _assert_frustrated(text: str) -> None:
    """The message is frustrated enough to hand off."""
    signal = detect_frustration(text)
    assert signal is not None, text
    assert signal.score >= FRUSTRATION_THRESHOLD, (text, signal)


def _assert_below_the_threshold(text: str) -> None:
    """The message is not frustrated enough to hand off (or not at all)."""
    signal = detect_frustration(text)
    assert signal is None or signal.score < FRUSTRATION_THRESHOLD, (text, signal)


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("no bots please", {"rejects the bot"}),
        ("enough with the robot", {"rejects the bot"}),
        ("chega de robô", {"rejects the bot"}),
        ("can someone call me back tomorrow morning?", CALL),
        ("llámenme por favor", CALL),
        ("pode me retornar a ligação?", CALL),
        ("who do I talk to about an invoice?", {"request phrase"}),
        ("can someone drop me a line tomorrow?", CALL),
        ("give me a bell when you can", CALL),
        ("is there a number I can call?", CALL),
        ("mit wem kann ich sprechen?", {"request phrase"}),
    ],
)
def test_request_without_a_listed_phrase_is_recognised_by_its_rule(text: str, rules: set[str]) -> None:
    signal = detect_explicit_request(text)
    assert signal is not None, text
    assert signal.rule in rules


@pytest.mark.parametrize(
    "text",
    [
        # A passive with its agent: being served by a person.
        "tem como eu ser atendida por uma pessoa de verdade?",
        "prefiero ser atendido por una persona",
        # A German relative clause puts the verb last, words away from the person.
        "Gibt es bei Ihnen auch jemanden, mit dem ich das persönlich besprechen kann?",
        "vous pouvez demander à un commercial de me téléphoner ? merci",
        "can someone from your team hacerme una llamadita?",
        "could someone from sales pop me a call before 5?",
        "Seria possível falar com um colega vosso por telefone?",
        "je préfère régler ça de vive voix avec quelqu'un de chez vous",
        "momken 7ad yetsel beya 3al mobile?",
        "Gibt's bei euch auch jemanden aus Fleisch und Blut, mit dem ich das klären kann?",
        "need someone to look at our webhook setup with me, its returning 401s",
        "kisi se phone pe baat ho sakti hai kya?",  # "phone pe" makes "kisi" a person; "se" is "with"
    ],
)
def test_request_in_the_passive_verb_last_or_by_a_phone_verb_is_recognised(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "fui atendida por uma pessoa muito simpática ontem",  # a report of the past
        "quanto custa por agente?",  # a price per seat
        "el precio es por persona?",
        "unsere Mitarbeiter, die das Tool täglich nutzen, sprechen nur Englisch",
        "meu colega quer falar com vocês sobre preços",  # the customer's own colleague
        "je dois régler la facture avec mon comptable",
        "wie funktioniert das chatten mit einem agenten bei euch?",  # "das chatten" is the noun
    ],
)
def test_past_service_and_prices_per_person_are_not_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "could you transfr me to a representative",
        "speek to a human pls",
        "someone real please, this is urgent",
        "hay una persona de verdad por ahí?",
        "ich brauche jemanden aus dem Vertrieb",
        "can I get someone on the phone?",
    ],
)
def test_request_is_found_through_typos_and_qualifiers(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "does your bot reply in Arabic?",
        "I'll call you back after lunch",
        "we call back every customer within a day, can you track that?",
        "how do I connect my WhatsApp number to a bot?",
        "koi discount hai kya?",
        "apakah ada admin fee?",
        "our customers do not want a bot, can it hand over to our staff?",
        "this is not a bot problem, the API returns 500",
        # A function word of one language is no typo of another's verb ("haben" is not "hablen").
        "wir haben jemanden, der das macht, aber ich habe eine Frage zu den Preisen",
        # Someone who helped in the past is a report; "da" joining two nouns is "of the", not "there".
        "der Mitarbeiter, der mir gestern helfen konnte, hat gesagt ich soll hier fragen: gibt es eine API?",
        "o atendente da loja me disse para perguntar aqui sobre o preço",
    ],
)
def test_product_questions_and_own_calls_are_not_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


def test_declined_call_back_is_reported_as_negated() -> None:
    text = "no hace falta que me llamen, gracias"
    assert detect_explicit_request(text) is None
    assert detect_negated_request(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "WHY IS MY ORDER STILL NOT HERE",
        "STILL NOT WORKING. seriously?",
        "oh great, it crashed again 🙄",
        "thanks for nothing",
        "if this isn't sorted by friday we're switching to another provider",
        "ya es la cuarta vez que escribo, qué falta de respeto",
        "vcs só enrolam, perdi a paciência",
        "c'est une blague, toujours en attente",
        "ich fühle mich verarscht, seit Tagen keine Antwort",
        "che schifo, nessuna risposta da giorni",
        "abhi tak fix nahi hua, bakwas",
        "udah 3x nanya gak ada yang bales, parah",
        "ik ben het zat, al drie keer gevraagd",
    ],
)
def test_complaint_without_angry_words_reaches_the_threshold(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "WHAT TIME DO YOU OPEN ON SATURDAY",
        "THIS IS GREAT, LOVE IT",
        "wow great, thanks a lot!",
        "it was slow yesterday but it works fine now, thanks",
        "I need to cancel my order, how?",
    ],
)
def test_loud_question_praise_and_solved_problems_stay_below_the_threshold(text: str) -> None:
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text",
    [
        "heyyy",
        "Hi, hope you're well",
        "good evening all",
        "hola buenas tardes",
        "oii tudo bem?",
        "bonsoir",
        "Moin moin",
        "buongiorno a tutti",
        "namaste ji",
        "selamat malam kak",
        "صباح الخير",
        "goedemorgen",
        "👋",
    ],
)
def test_greetings_and_small_talk_in_every_language_are_greetings(text: str) -> None:
    assert is_greeting(text), text


@pytest.mark.parametrize(
    "text", ["hi, what are your prices?", "this morning the app broke", "hello?? anyone"]
)
def test_message_with_more_than_a_greeting_is_not_a_greeting(text: str) -> None:
    assert not is_greeting(text)


def test_greeting_is_stripped_before_the_question() -> None:
    assert strip_social("Good morning! how much is the basic plan?") == "how much is the basic plan?"
    assert strip_social("how much is it?") == "how much is it?"


def test_thanks_with_a_remark_is_a_pleasantry_but_a_complaint_is_not() -> None:
    assert is_pleasantry("thanks, your colleague fixed it")
    assert not is_pleasantry("thanks for nothing, still broken")
    assert not is_pleasantry("thanks, but how do I export?")


@pytest.mark.parametrize(
    "text",
    [
        "thanks, one more question about my invoice",
        "I have a question about my invoice",
        "can I ask you a quick question?",
        "merci, j'ai une autre question sur ma facture",
        "danke, noch eine Frage zu meiner Rechnung",
        "gracias, una pregunta más",
        "obrigado, tenho outra dúvida",
        "grazie, un'altra domanda",
        "bedankt, nog een vraag",
        "makasih, satu pertanyaan lagi",
        "Shukriya, ek aur sawal hai",
        "شكرا، عندي سؤال آخر",
        "cheers, one last thing",
    ],
)
def test_a_further_question_announced_is_neither_thanks_nor_a_question(text: str) -> None:
    assert is_announcement(text), text
    assert not is_pleasantry(text), text


@pytest.mark.parametrize(
    "text",
    [
        # the question or the problem itself follows the announcement
        "thanks! quick question, do you have an API",
        "cheers, one last thing: do you integrate with shopify",
        "thanks so much. another thing - my export keeps failing",
        # taken back, or about a question already answered
        "thanks, that's all, no more questions",
        "gracias, sin más preguntas",
        "thanks, that answered my question",
        # a thing with no word of "more" announces nothing
        "one thing: the app crashes on login",
    ],
)
def test_a_question_asked_taken_back_or_answered_is_no_announcement(text: str) -> None:
    assert not is_announcement(text), text


def test_thanks_that_close_the_conversation_stay_a_pleasantry() -> None:
    assert is_pleasantry("thanks, that's all, no more questions")
    assert is_pleasantry("thanks, that answered my question")


def test_a_problem_reported_solved_with_a_thumbs_up_is_a_pleasantry() -> None:
    assert is_pleasantry("had trouble logging in yesterday but it worked in the end, all good now 👍")
    assert not is_pleasantry("had trouble logging in yesterday, all good now?")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how do i export chats", True),
        ("wie geht das", True),
        ("still stuck", False),
        ("price?", True),
        ("like can i connect our hubspot to it", True),
        ("ok but does it integrate with shopify or not", True),
        ("pero como lo conecto con shopify", True),
        ("so the export is broken", False),
        ("ok thanks", False),
    ],
)
def test_question_is_told_from_a_statement(text: str, expected: bool) -> None:
    assert is_question(text) is expected


@pytest.mark.parametrize(
    ("text", "asking", "company", "use_case"),
    [
        ("I'm Joana from Padaria Estrela and we want to send order updates", None, "Padaria Estrela", "send"),
        ("sou o Pedro da Auto Peças Lima", "company_name", "Auto Peças Lima", None),
        ("Je suis Claire de la société Verde Conseil", "company_name", "Verde Conseil", None),
        (
            "Hi, Greenway Dental Group here - looking to automate appointment reminders",
            None,
            "Greenway Dental Group",
            "automate",
        ),
        (
            "we run two gyms called Iron Temple and need help answering membership questions",
            None,
            "Iron Temple",
            "answering",
        ),
        ("mera naam Amit hai, company Gupta Traders hai", "company_name", "Gupta Traders", None),
        ("booking tables for our restaurant", "company_name", None, "booking tables"),
        ("Blue Lagoon", "use_case", "Blue Lagoon", None),
    ],
)
def test_company_and_use_case_come_from_any_message_in_any_order(
    text: str, asking: str | None, company: str | None, use_case: str | None
) -> None:
    found = {x.field: x.value for x in extract_fields(text, asking=asking)}
    assert found.get("company_name") == company, found
    if use_case is None:
        assert "use_case" not in found, found
    else:
        assert use_case in found["use_case"], found


def test_the_customers_own_name_is_not_taken_for_the_company() -> None:
    assert extract_fields("Tom", asking="company_name", person="Tom Becker") == []


def test_a_place_after_a_weak_lead_is_not_a_company_without_a_use_case() -> None:
    assert extract_fields("I'm from Brazil", asking=None) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("answering customer FAQs for our gym", True),
        ("tomar pedidos por whatsapp", True),
        ("Brightside Dental", False),
        ("zentro", False),
    ],
)
def test_use_case_answers_are_told_from_names(text: str, expected: bool) -> None:
    assert looks_like_use_case(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "Gibt es bei Ihnen jemanden, der sich mein Konto einmal ansehen könnte?",
        "Is er iemand bij jullie die me morgen even kan bellen?",
    ],
)
def test_someone_described_by_a_relative_clause_after_a_comma_or_verb_last_is_a_request(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


def test_a_thing_described_by_a_relative_clause_is_no_request() -> None:
    assert detect_explicit_request("gibt es in der App eine Funktion, die Nachrichten plant?") is None


@pytest.mark.parametrize(
    ("text", "at_least"),
    [
        ("si el lunes sigue sin funcionar, cancelo el plan", 0.6),  # an ultimatum: handed off
        ("wenn das bis Freitag nicht geht, kündigen wir", 0.6),
        ("we're honestly looking at alternatives now", 0.45),  # a threat: counts with a complaint
        ("stiamo valutando la concorrenza", 0.45),
    ],
)
def test_a_threat_to_leave_in_any_form_of_the_verb_is_frustration(text: str, at_least: float) -> None:
    signal = detect_frustration(text)
    assert signal is not None, text
    assert signal.score >= at_least, (text, signal)


@pytest.mark.parametrize(
    "text",
    [
        "I HAVE BEEN CHARGED TWICE THIS MONTH AND NOBODY HAS FIXED IT",  # "fixed" negated is no good news
        "ya3ni 5 ayam w mafi rad?? khalas bal8i el eshterak",  # Arabizi
    ],
)
def test_good_news_negated_and_arabizi_complaints_are_frustration(text: str) -> None:
    _assert_frustrated(text)


def test_a_customer_judging_their_own_skill_is_not_frustrated() -> None:
    for text in ["sorry I'm rubbish at typing, how much is the pro plan", "I am useless at computers lol"]:
        assert detect_frustration(text) is None, text
    for text in ["your bot is rubbish at answering", "im furious at being ignored", "i am angry at you"]:
        _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "can I cancel anytime",
        "how would I cancel if I need to",
        "I cancelled the trial by mistake, can you restore it",
        "please cancel my order 4411",
        "cancela o pedido por favor",
        "vorrei disdire la prenotazione",
        "do you have alternatives to templates?",
    ],
)
def test_asking_about_cancelling_past_cancellations_and_cancelled_orders_are_no_threat(text: str) -> None:
    signal = detect_frustration(text)
    assert signal is None or signal.score < 0.45, (text, signal)


@pytest.mark.parametrize(
    "text",
    [
        "following up again on the invoice I asked about last week",
        "de novo eu, ontem ninguém me respondeu",
        "schon wieder ich, gestern hat sich keiner gemeldet",
    ],
)
def test_writing_again_about_something_unsettled_is_frustration(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "hi again! do you ship to Chile?",
        "hola de nuevo, ayer me ayudaron mucho",
        "tried again yesterday and it works now, thanks",
        "could you explain again how templates work",
    ],
)
def test_again_in_a_greeting_a_retry_that_worked_or_a_request_is_no_chasing(text: str) -> None:
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text",
    [
        "wow, only took you five days to reply",
        "great, nobody has answered in three days",
        "top, seit 4 Tagen ist mein Konto gesperrt",
        # Praise over several sentences, then a span of the day with something wrong.
        "brilliant. absolutely brilliant. the app has been down all morning",
    ],
)
def test_praise_that_opens_a_count_of_the_wait_is_sarcasm(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "perfect, see you in two days",
        "awesome, 3 days and it finally arrived",
        "great app, but the export keeps failing",
        "Brilliant, thanks! one more thing: the export still fails",
        "great, my order arrived after 3 days without any damage",
    ],
)
def test_praise_before_a_date_a_good_outcome_or_a_but_is_no_sarcasm(text: str) -> None:
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text",
    [
        "sent you 2 msgs yesterday, nothing",
        "te escribí el lunes y nada",
        "emailed you on friday... nothing",
        "is this how you treat paying customers?",
        "¿así tratan a sus clientes?",
        "so behandelt ihr eure Kunden?",
        # "are you kidding??" and "still not resolved" beside a double charge
        "ma state scherzando?? mi avete addebitato due volte e il problema non è ancora risolto",
        # a shouted demand to fix something names a problem
        "THE AUTO REPLY IS SENDING THE SAME MESSAGE 5 TIMES TO EVERY CUSTOMER. FIX THIS NOW",
    ],
)
def test_a_chase_without_again_a_rhetorical_question_and_a_shouted_demand_are_frustration(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "I sent the files yesterday, nothing else to add",
        "te escribí ayer, de nada por lo del pago",
        "is this how you treat refunds normally? just asking",
        "CAN YOU HELP ME FIX THE LOGO ON MY PROFILE",
        "HOW DO I SORT MY CONTACTS BY NAME",
        "please fix this when you can, no rush",
    ],
)
def test_nothing_else_a_question_about_fixing_and_a_calm_request_stay_below_the_threshold(text: str) -> None:
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text",
    [
        # a talk verb with the person attached, standing for someone named before
        "chi si occupa dell'amministrazione da voi? vorrei parlarci direttamente",
        "quién lleva la facturación? quiero hablarle",
        "any chance i can have a yarn with an actual person about the setup",
        "can i have a chat to someone in sales",
    ],
)
def test_a_pronoun_inside_the_verb_and_a_chat_by_another_name_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "potete parlarci dei prezzi?",  # "tell us about": nobody named before
        "how do i assign a chat to a specific agent in the shared inbox?",  # "a chat" is a conversation
        # a request in quotes after a build verb is a button the customer builds for their customers
        "is there a way to add a 'talk to a person' button for OUR customers in the auto-reply?",
        'como crio a opção "falar com atendente" no menu?',
    ],
)
def test_a_conversation_assigned_and_a_quoted_label_to_build_are_not_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


def test_a_request_quoted_from_someone_else_still_counts_when_the_customer_asks_too() -> None:
    text = 'my boss said "dont waste time w the chatbot, get a human" so can u put me through to someone'
    assert detect_explicit_request(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "GREAT, the inbox logged everyone out AGAIN. thanks so much, really love paying for this",
        "loving being ignored for 3 days, the export is still broken",
        "this is really not acceptable, our tickets have been ignored since morning",
        "basta, sono stufo",
        "my customers hate your new app",  # about us: the object is ours
        "euer tool ist seit gestern tot, wir verlieren hier kunden. unfassbar",  # two clauses
    ],
)
def test_praise_of_a_complaint_being_ignored_and_enough_said_in_anger_are_frustration(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "I love paying for this, it's worth every penny",  # nothing wrong beside it
        "Siamo un call center con 12 operatori, il piano Business basta?",  # "is it enough?"
        "my customers hate bots honestly lol. can the auto reply run only at night?",
        "can I ignore spam numbers?",
    ],
)
def test_praise_alone_a_question_of_enough_and_the_customers_own_customers_are_no_frustration(
    text: str,
) -> None:
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text",
    [
        "Queria falar com o vosso departamento de faturação, por favor",
        "jvoudrais un appel visio avec qqn de chez vous pour une démo",
        "Avrei bisogno di parlare con la vostra commercialista",
        "quiero hablar con quien se encarga de la facturación",
        "any chance someone could hop on a quick video call with me this week?",
        "can one of your staff chat me directly",
    ],
)
def test_a_department_an_accountant_a_video_call_and_chat_me_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "can customers ask for a human in your bot? like if someone texts 'agent' does it route to my team",
        "we do video calls with our clients, can the inbox log them?",
    ],
)
def test_a_word_typed_into_the_customers_bot_and_a_question_about_their_video_calls_are_no_requests(
    text: str,
) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "Is Sarah from onboarding about today? She was helping us last Thursday",
        "ist Frau Weber heute da?",
        "est-ce que je pourrais jaser avec quelqu'un de chez vous?",
        "saya mau konsultasi langsung dengan tim sales nya",
        "momken had yekalemny 3la el phone?",
        "our showroom is in andheri east, can your executive visit us for demo?",
        "i wan make person explain the setup give me",  # "make" is causative, no product verb
    ],
)
def test_a_named_person_a_visit_and_regional_words_for_talking_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "Is Zapier available for the basic plan?",
        "Is Tuesday free for a demo?",
        "comment on ajoute un collègue dans la boîte partagée ?",  # a person added to the product
        "se capiscono che è un robot si spaventano",  # "that it is a robot", said, not asked
    ],
)
def test_a_product_a_day_a_colleague_added_and_a_reported_bot_are_no_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "Just following up on my message from Tuesday, which still hasn't had a reply",
        "complimenti davvero, terzo addebito doppio in tre mesi",
        "paid on Monday, still on the trial. or should I just assume my money vanished into thin air?",
    ],
)
def test_no_reply_yet_a_third_double_charge_and_money_gone_are_frustration(text: str) -> None:
    _assert_frustrated(text)


def test_the_customers_own_customers_waiting_is_not_a_complaint_about_us() -> None:
    _assert_below_the_threshold("My customers get VERY angry when nobody replies them on weekends 😂")
    _assert_frustrated("nobody replies to my messages, is anyone reading these?")


@pytest.mark.parametrize(
    "text",
    [
        "mis clientes always want to call me pero I can't, puedo poner un auto reply?",  # their customers
        "si un client écrit « je veux parler à un humain », est-ce que votre bot peut le détecter ?",
    ],
)
def test_the_customers_own_customers_calling_and_a_quoted_french_request_are_no_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


def test_someone_of_ours_calling_the_customer_is_still_a_request() -> None:
    assert detect_explicit_request("my clients are waiting, can someone from your team call me?") is not None


@pytest.mark.parametrize(
    "text",
    [
        "nice. can you connect me with your onboarding team? want to get this live before the weekend",
        "put me in touch with your partnerships team",
        "Serait-il possible d'être mis en relation avec un membre de votre équipe ?",
        "Right, I'll need your tech guy for this next bit, we're migrating from another provider",
        "ok, je voudrais parler au service compta pour une facture svp",
        "kak bisa langsung telpon aja gak? saya lagi nyetir",
    ],
)
def test_a_team_of_ours_named_by_what_it_does_and_a_call_asked_for_plainly_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "does your team plan include whatsapp?",
        "how big is your support team?",
        "your team was great yesterday",
        "we need your onboarding guide",
        "bot nya bisa telpon pelanggan?",
    ],
)
def test_a_plan_a_size_praise_and_a_product_that_calls_are_not_requests_for_the_team(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "that link goes back to the login page. been a customer 3 years, this really shouldnt be this hard",
        "eso ya lo intenté. la verdad ya me estoy cansando, llevo toda la semana con esto",
        "sto ancora aspettando una risposta dalla settimana scorsa. così non va bene",
        "ik heb al drie keer gevraagd hoe dat moet en krijg steeds hetzelfde standaardantwoord",
        "ye same reply 2 baar aa chuka hai. seriously? koi dekh bhi raha hai ya nahi",
        "thanks for the generic answer. I want my money back, this is basically theft",
        "sério, vcs tão de brincadeira né? tô perdendo venda por causa disso",
        "Die Seite lädt seit gestern nicht. Langsam reicht's mir echt, wir zahlen schließlich dafür!",
        "die staat er gewoon niet. waardeloos dit, ik zit er al twee uur mee te klooien",
    ],
)
def test_worn_out_the_same_answer_again_money_back_and_hours_lost_are_frustration(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "I've been a customer for 3 years, can I get a discount?",
        "already tried that, now it works!",
        "ya lo hice, gracias",
        # One entry's overlapping spellings count once: "me estoy cansando" inside "ya me estoy cansando".
        "ya me estoy cansando",
        "how do I get a refund for the unused seats?",
    ],
)
def test_loyalty_a_fix_that_worked_and_one_weary_remark_stay_below_the_threshold(text: str) -> None:
    _assert_below_the_threshold(text)


def test_a_negator_ends_with_its_sentence() -> None:
    # "niet" belongs to the sentence before: "waardeloos" is not negated.
    assert detect_frustration("die staat er gewoon niet. waardeloos dit") is not None
    assert detect_frustration("niet waardeloos dit") is None


@pytest.mark.parametrize(
    "text",
    [
        "dann hätte ich gern nen echten Menschen, danke",
        "an wen wende ich mich wegen der Rechnung?",
        "an wen kann ich mich wegen einer Kündigung wenden?",
        "solicito que un responsable se ponga en contacto conmigo lo antes posible",
        "ok so can someone from your team me llama hoy?",
        "com quem eu falo sobre a minha fatura?",
    ],
)
def test_an_inverted_wish_a_formal_letter_and_whom_to_turn_to_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "C'è un limite di operatori per account?",
        "is there a list of agents somewhere in the settings?",
        "cmq non serve che mi chiamate, mi basta sapere il prezzo",
    ],
)
def test_a_limit_of_operators_and_a_call_declined_are_not_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text",
    [
        "mailed you on monday and again today, still nobody's got back to me",
        "ça fait 4 fois que je demande et personne répond",
        "tô desde ontem esperando, assim fica difícil",
        "the whole inbox has been down since lunch and we pay £90 a month for this. great stuff 👏",
        "honestly this rollout has been a complete disaster",
    ],
)
def test_no_one_getting_back_the_same_question_again_and_sarcastic_applause_are_frustration(
    text: str,
) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "our previous vendor never picked up the phone, total nightmare, so we're shopping around",
        "mi proveedor anterior era un desastre 😤 por eso estoy buscando otro",
        "mijn vorige leverancier reageerde nooit, echt waardeloos. wat kost het bij jullie?",
        "our call center never picks up lol, that's why we want whatsapp",
    ],
)
def test_complaints_about_another_business_are_not_about_us(text: str) -> None:
    _assert_below_the_threshold(text)


def test_a_complaint_that_turns_to_us_after_another_business_still_counts() -> None:
    _assert_frustrated("my old provider was slow but you are useless")
    _assert_frustrated("our old provider was fine. your app is useless")


def test_a_customer_saying_who_they_are_still_asks_and_a_customer_of_theirs_does_not() -> None:
    for text in ("soy cliente y quiero hablar con una persona", "sou cliente e quero falar com um atendente"):
        assert detect_explicit_request(text) is not None, text
    hypothetical = "y si un cliente mío pide hablar con una persona, el bot lo pasa a un asesor de mi equipo?"
    assert detect_explicit_request(hypothetical) is None


@pytest.mark.parametrize(
    "text",
    [
        "who handles billing over there? need to sort an invoice",
        "hi who deals with refunds",
        "who's in charge of billing?",
        "Buongiorno, chi si occupa delle fatture da voi?",
        "quién se encarga de la facturación?",
        "wer kümmert sich bei euch um die Rechnungen?",
        "qui s'occupe de la facturation ?",
        "quem cuida do financeiro aí?",
        "siapa yang pegang akun saya?",
        "vorrei parlare con chi si occupa delle fatture",
    ],
)
def test_asking_who_looks_after_something_of_ours_is_a_request(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "the guy who handles our billing quit last week",
        "who handles the chats when we are offline, the bot?",
        "can the tool decide who handles each chat?",
        "I'd like to talk about who handles billing in our team",
        "I want your sales team to stop calling me",
        "quiero que su equipo de ventas deje de llamarme",
        "je veux que votre commercial arrête de m'appeler",
    ],
)
def test_who_does_a_job_in_passing_and_asking_people_to_stop_calling_are_not_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text", ["es reicht mir der Basic-Tarif", "mir reicht der Basic-Tarif völlig", "me basta el plan básico"]
)
def test_something_being_enough_is_not_enough_said(text: str) -> None:
    _assert_below_the_threshold(text)


def test_enough_said_is_still_frustration() -> None:
    _assert_frustrated("Es reicht! Ich kündige")
    _assert_frustrated("jetzt reichts mir aber, drei mal gefragt und keine antwort")


@pytest.mark.parametrize(
    "text",
    [
        "honestly my agents are useless at replying on weekends, half the chats just sit there",
        "el proveedor q teníamos antes era un desastre, nunca contestaban 🙄 por eso estoy mirando opciones",
        "mere purane vendor ne bohot pareshan kiya tha yaar 😤 aapka free trial milta hai kya?",
    ],
)
def test_complaints_about_their_own_staff_or_a_former_vendor_are_not_about_us(text: str) -> None:
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text",
    [
        "someone from your team called me yesterday and I missed it. it's fine, I'll wait for a call again",
        "bit disappointed the mobile app doesn't have dark mode yet tbh, not a big deal",
        "kkkk de boa, nao precisa chamar ninguém não, era só curiosidade",
    ],
)
def test_one_mild_complaint_said_calmly_hands_nothing_off(text: str) -> None:
    _assert_below_the_threshold(text)


def test_a_calm_word_does_not_soften_a_threat_or_an_insult() -> None:
    _assert_frustrated("your app is useless, no worries I'm cancelling")
    _assert_frustrated("useless bot. no worries")


@pytest.mark.parametrize(
    "text",
    [
        "i'd love to know what exactly we're paying for when the inbox has been down half the day. again.",
        "Slow clap for the update that wiped all our saved replies 👏👏👏",
        "nossa que atendimento maravilhoso hein, 4 dias esperando retorno 👏👏👏 parabéns",
        "bon laissez tomber, vous êtes pas capables de répondre à une question simple",
        "les pago todos los meses y el bot no responde nada. si no lo arreglan hoy me voy a la competencia",
        "howa fi eh?? ba2ali 3 ayam ba2ol nafs el moshkla w mafish 7ad beyrod, 7aga t2raf bgad",
    ],
)
def test_indignation_sarcastic_applause_giving_up_and_arabizi_complaints_are_frustration(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "joya. y no me podés pasar con alguien q me arme un quote?",
        "Können Sie mich einfach anrufen? Ich erkläre das lieber am Telefon.",
        "est ce que je pourrai avoir qqn au tel svp c plus simple",
        "mumkin 7ad ykalimni? ana afham a7san bil telephone",
        "bhai jo integrations dekhta hai usse baat karwa do na",
        "kak bisa tolong sambungkan ke bagian yang ngurus akun enterprise?",
        "tbh I'd rather someone phoned me, can you arrange that?",
        "Genuinely, is anyone at your company actually reading these?",
        "ja, dann gerne einen Mitarbeiter bitte",
    ],
)
def test_polite_negative_questions_new_sentences_after_a_call_and_regional_wordings_are_requests(
    text: str,
) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "no me pueden pasar con nadie, ya lo sé",
        "ga usah ditelpon ya kak, aku lg meeting. chat aja. jam operasional cs nya sampe jam brp?",
        "admin saya sering telat bales chat customer, di aplikasi ini bisa bikin balasan otomatis gak ya?",
    ],
)
def test_a_statement_a_verb_and_noun_in_two_sentences_and_their_own_staff_are_no_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "alguém da equipe pode falar comigo?",
        "una persona puede hablar conmigo?",
        "Whoever looks after migrations, could they message me here directly?",
        "am i talking to a robot rn lol. would love a human if thats possible",
    ],
)
def test_someone_asked_to_talk_with_the_customer_and_whoever_does_a_job_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


def test_staff_who_talk_to_the_customer_in_a_product_question_are_no_request() -> None:
    assert detect_explicit_request("your agents speak to me in english, can they use spanish?") is None


@pytest.mark.parametrize(
    "text",
    [
        "We are considering your platform for client reminders and would appreciate speaking with a "
        "member of your staff at your earliest convenience.",
        "Können wir dazu kurz mit jemandem aus Ihrem Vertrieb telefonieren?",
        "ah ok fair. yeah go on then, put me through, it's easier for what I need",
        "la verdad prefiero que alguien me lo explique por llamada porque por aquí me pierdo",
        "mira escribo muy lento con el celular, no me podría marcar un asesor?",
        "en fait vous pourriez pas m'appeler plutôt ? ce sera plus simple",
        "y'a-tu moyen de parler à un vrai monde? 🙏",
        "3afak bghit nhder m3a chi wa7d mn l'équipe dyalkom",
        "fi 7ada insan fiyye e7ki ma3o? 3ande so2al tawil shway",
    ],
)
def test_formal_letters_phone_verbs_explanations_and_regional_wordings_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "if a client wants to speak with one of your people, does the bot transfer?",
        "can my customers talk to a member of your staff from the chat?",
        "Bitte senden Sie mir Ihre Broschüre zu. Ein Rückruf ist nicht nötig.",
        "مب لازم تتصلون علي، بس ابا اعرف الاسعار لو سمحتوا",
        "vous pouvez pas m'appeler, je suis en réunion",
        "wir telefonieren oft mit unseren Kunden, geht das auch per WhatsApp?",
    ],
)
def test_their_customers_a_call_declined_after_it_and_a_statement_are_no_requests(text: str) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "Una dey whine me ni? I want my money back today or I go report una everywhere",
        "wow, great job guys. 3 days without being able to send a template. really top notch service 👏👏",
        "I've given you the company name, now you want a use case, then what, my blood type? this is painful",
        "kok nanya terus sih, ribet amat. udah lah ga jadi, males",
        "I am writing to express our serious dissatisfaction with your service. Should this not be resolved "
        "by tomorrow, we will be terminating our contract and seeking compensation.",
        "I've emailed twice. If I don't hear back today I'm leaving a review on G2",
        "charged for the Pro plan which none of us ever picked. What kind of scam are you running??",
        "ma state scherzando?? vi pago ogni mese per questo? vi lascio una recensione da una stella ovunque",
        "che son unos chantas, me cobraron el anual y todavía no me activaron nada",
    ],
)
def test_pidgin_sarcastic_praise_formal_complaints_and_regional_insults_are_frustration(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "no need to call me btw, I'm travelling all week with terrible signal so text works best",
        "the customers are all furious with ME 😩 not your problem obviously. do you have a free trial?",
        "bhaiya mera staff bilkul kaam nahi karta, customers ke message pe reply hi nahi dete 😤",
        "At the moment the drivers text people from their own phones which is a GDPR nightmare.",
        "onze vorige tool was echt om zeep, ge kreeg nooit antwoord. hoe zit da bij jullie?",
        "ok this is gonna sound dumb but how do I reset my password lol",
    ],
)
def test_their_surroundings_their_staff_their_situation_today_and_a_modest_question_are_not_about_us(
    text: str,
) -> None:
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text",
    [
        "could you book me in for a demo with one of your team? mornings are best",
        "can i just get a quick call? 5-10 mins is fine, mornings pst",
        "Could someone in your accounts team sort that for me please?",
        "bet. can i like facetime someone to see how it works",
        "Je souhaiterais m'entretenir avec l'un de vos conseillers au sujet de notre abonnement.",
        "no habrá alguien que me pueda marcar para explicarme?",
        "I want to ask a human",
    ],
)
def test_demos_quick_calls_jobs_for_a_person_and_formal_wordings_are_requests(text: str) -> None:
    assert detect_explicit_request(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "kak, mau tanya jam operasional cs nya sampai jam berapa ya? ga usah ditelpon, chat aja",
        "i want to ask about your support team hours",
        "theek hai, mai apne manager se baat karke batata hu",
        "vos chatbots peuvent passer la main à un agent humain de mon équipe quand un client le demande ?",
    ],
)
def test_asking_about_people_their_own_manager_and_a_feature_for_their_team_are_no_requests(
    text: str,
) -> None:
    assert detect_explicit_request(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "We've had nothing but problems since we signed up. If this isn't sorted by Friday we're taking our "
        "business elsewhere.",
        "Ehrlich gesagt ist das jetzt das Letzte. Keiner von Ihnen meldet sich. So nicht!",
        "nossa que ajuda maravilhosa hein 🙄 parabéns",
    ],
)
def test_threats_to_take_the_business_elsewhere_and_formal_german_anger_are_frustration(text: str) -> None:
    _assert_frustrated(text)


@pytest.mark.parametrize(
    "text",
    [
        "Can I use your platform to send delivery updates automatically so this doesn't happen again?",
        "a gente saiu de outra plataforma pq o suporte deles era péssimo kkk",
        "o atendente da empresa que a gente usava antes era péssimo, nunca respondia nada kkk",
        "yaar ye call center wale log din bhar phone karke pareshan karte hai 😂 aapka opening time kya hai",
        "we zijn net overgestapt van een andere tool, hun support was echt a total disaster lol",
        "الشركة اللي كنا نتعامل معها قبل كانت سيئة جداً في الدعم. هل عندكم فترة تجربة مجانية؟",
    ],
)
def test_a_wish_for_the_future_and_another_platform_in_more_wordings_are_not_about_us(text: str) -> None:
    _assert_below_the_threshold(text)


@pytest.mark.parametrize(
    "text", ["Done, that worked, cheers", "grand, got it", "sound", "ok no problem", "Très bien"]
)
def test_more_ways_of_saying_ok_are_acknowledgements(text: str) -> None:
    assert is_acknowledgement(text)


def test_a_quick_q_announces_a_question() -> None:
    assert is_announcement("hi, quick q")
