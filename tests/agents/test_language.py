"""Folding, tokenisation, phrase matching and offline language detection."""

from __future__ import annotations

import pytest

from agents.language import PhraseSet, analyse, detect_language, fold


def test_fold_strips_accents_and_case() -> None:
    assert fold("¿Dónde ESTÁ?") == "¿donde esta?"
    assert fold("Straße") == "strasse"
    assert fold("Ferretería López") == "ferreteria lopez"


def test_fold_unifies_arabic_letter_forms_and_drops_diacritics() -> None:
    assert fold("أريد إنسانًا") == fold("اريد انسانا")
    assert fold("خدمة") == "خدمه"


def test_analyse_joins_english_contractions_and_splits_elisions() -> None:
    assert analyse("I don't want it").words == ("i", "dont", "want", "it")
    assert analyse("je voudrais parler à quelqu'un").words == (
        "je",
        "voudrais",
        "parler",
        "a",
        "quelqu",
        "un",
    )
    assert analyse("I’m here").words == ("im", "here")


def test_analyse_keeps_offsets_into_the_original_for_evidence() -> None:
    a = analyse("¿Me pueden PASAR con un asesor?")
    first = a.words.index("pasar")
    assert a.span(first, len(a.words) - 1) == "PASAR con un asesor"


def test_analyse_numbers_clauses_at_punctuation_and_contrast_words() -> None:
    a = analyse("no need for an agent, just send the brochure")
    clauses = {t.text: t.clause for t in a.tokens}
    assert clauses["agent"] == clauses["no"]
    assert clauses["brochure"] > clauses["agent"]


def test_analyse_keeps_devanagari_and_arabic_words_whole() -> None:
    assert analyse("मुझे इंसान चाहिए").words == ("मुझे", "इंसान", "चाहिए")
    assert analyse("ممكن أكلم موظف؟").words == ("ممكن", "اكلم", "موظف")


def test_phrase_set_matches_choices_stems_and_gaps() -> None:
    phrases = PhraseSet.of(["sales rep/team|frustrat*", "put me through"])
    words = analyse("so frustrating, put me straight through to the sales team").words
    found = {m.phrase.source for m in phrases.find(words, gap=1)}
    assert found == {"sales rep/team", "frustrat*", "put me through"}
    assert not phrases.find(analyse("put me straight through").words, gap=0)


def test_phrase_set_strips_arabic_clitics() -> None:
    phrases = PhraseSet.of(["موظف"])
    assert phrases.find(analyse("والموظف").words)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I want to talk to a human", "en"),
        ("can you put me through to someone from support", "en"),
        ("quiero un humano por favor", "es"),
        ("¿dónde está mi factura?", "es"),
        ("quero falar com alguém", "pt"),
        ("estou muito irritado com vocês", "pt"),
        ("je voudrais parler à quelqu'un", "fr"),
        ("ich bin total genervt", "de"),
        ("Kann ich bitte mit einem echten Menschen sprechen?", "de"),
        ("voglio parlare con un umano", "it"),
        ("kisi agent se baat karni hai", "hi"),
        ("mujhe kisi insaan se baat karni hai", "hi"),
        ("मुझे किसी इंसान से बात करनी है", "hi"),
        ("mau ngobrol sama orang", "id"),
        ("أريد التحدث مع إنسان", "ar"),
        ("ik wil een medewerker spreken", "nl"),
        ("kan ik iemand van de klantenservice spreken?", "nl"),
    ],
)
def test_language_is_detected(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("boa noite", "pt"),
        ("Goedemorgen", "nl"),
        ("buonasera", "it"),
        ("selamat pagi", "id"),
        ("bom dia!", "pt"),
        ("yo", "en"),  # a greeting in English, "I" in Spanish: alone, it greets
        ("holaa", "es"),  # a stretched last letter is the word
        ("yo!", "en"),
    ],
)
def test_a_greeting_only_one_language_has_gives_the_language(text: str, language: str) -> None:
    assert detect_language(text, default="") == language


@pytest.mark.parametrize("text", ["ok", "Hi", "hey", "Umbrella Corp", "👍", "", "12345", "Initech"])
def test_language_is_the_default_when_unsure(text: str) -> None:
    assert detect_language(text, default="") == ""
    assert detect_language(text) == "en"


def test_chat_shorthand_is_read_as_the_word_it_stands_for() -> None:
    assert analyse("put me thru to billing pls").words == ("put", "me", "through", "to", "billing", "please")
    assert analyse("ngm resolve, vc sabe?").words == ("ninguem", "resolve", "voce", "sabe")
    # Words of one language that are shorthand in another are left alone ("wat kost het").
    assert analyse("wat kost het").words == ("wat", "kost", "het")


def test_lexicon_phrases_written_with_shorthand_match_the_full_word() -> None:
    phrases = PhraseSet.of(["nggak dibales"])  # a lexicon may list a shorthand form
    assert phrases.find(analyse("kok tidak... gak dibales").words)
    assert phrases.find(analyse("gk dibales").words)


def test_a_word_repeated_with_a_2_is_read_once() -> None:
    # Indonesian reduplication: "dibales2" is "dibales-dibales"; "mp3" and "me2" are not.
    assert analyse("gk dibales2, rame2 mp3 me2").words == ("gak", "dibales", "rame", "mp3", "me2")


def test_a_conversation_keeps_its_language_against_a_message_of_names() -> None:
    # "is" is English and Dutch; the rest is a name.
    assert detect_language("bedrijfsnaam is Fietsenmakerij De Spaak", default="", current="nl") == "nl"
    assert detect_language("ok thanks", default="", current="es") == "es"


def test_a_conversation_changes_language_when_the_customer_clearly_does() -> None:
    assert detect_language("can we switch to english please", default="", current="es") == "en"
    assert detect_language("thank you so much, very helpful", default="", current="es") == "en"


@pytest.mark.parametrize(
    ("text", "language"),
    [("merhaba, hesabıma giriş yapamıyorum", "tr"), ("dzień dobry, nie mogę się zalogować do konta", "pl")],
)
def test_turkish_and_polish_are_told_apart_by_their_lexicon_files(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_a_tie_between_languages_goes_to_the_country_of_the_number() -> None:
    assert detect_language("salve", country="IT") == "it"
    assert detect_language("salve", country="BR") == "pt"
    assert detect_language("hallo", country="NL") == "nl"
    # A clear language is not overruled by the number, nor is an unknown one guessed from it.
    assert detect_language("Where is the data stored?", country="IT") == "en"
    assert detect_language("ok", country="DE") == "en"


@pytest.mark.parametrize(
    ("text", "country", "language"),
    [
        ("quanto custa o plano?", "BR", "pt"),
        ("hallo, voor vragen over bestellingen", "NL", "nl"),
        ("gibt es eine kostenlose Testphase?", "DE", "de"),
        ("c'est combien le prix par mois", "FR", "fr"),
        ("kapan jam operasional nya?", "ID", "id"),
    ],
)
def test_common_words_tell_close_languages_apart(text: str, country: str, language: str) -> None:
    assert detect_language(text, country=country) == language
