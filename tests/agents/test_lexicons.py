"""The lexicon files: each one loads, validates and compiles; a broken file is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents import lexicon
from agents.language import SUPPORTED_LANGUAGES, PhraseSet, fold
from agents.lexicon import COMMON, LEXICON_DIR, LexiconError, load_lexicons, read_file

FILES = sorted(LEXICON_DIR.glob("*.yaml"))
LANGUAGE_FILES = [p for p in FILES if p.stem != COMMON]
PHRASE_TABLES = ("human_nouns", "someone", "talk_verbs", "connect_verbs", "want_verbs", "greetings")


def test_every_supported_language_has_a_lexicon_file() -> None:
    assert {p.stem for p in LANGUAGE_FILES} == set(SUPPORTED_LANGUAGES)
    assert (LEXICON_DIR / f"{COMMON}.yaml").exists()


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_lexicon_file_validates_and_its_phrases_compile(path: Path) -> None:
    data = read_file(path)
    for key in lexicon.PER_LANGUAGE:
        value = getattr(data, key)
        if key == "frustration":
            PhraseSet.weighted([(w.phrase, w.weight) for w in value])
        elif key != "language_words":
            PhraseSet.of(value)
    for key in ("exist_before", "exist_after", "call_me", "self_reference", "negation_before"):
        PhraseSet.of(getattr(data, key))


@pytest.mark.parametrize("path", LANGUAGE_FILES, ids=[p.name for p in LANGUAGE_FILES])
def test_language_file_covers_requests_frustration_and_greetings(path: Path) -> None:
    data = read_file(path)
    for key in PHRASE_TABLES:
        assert getattr(data, key), f"{path.name}: {key} is empty"
    assert data.frustration, f"{path.name}: no frustration cues"


EMOJI = {"angry_emoji", "annoyed_emoji", "positive_emoji"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_word_lists_are_written_folded(path: Path) -> None:
    # Phrases are folded when compiled; word lists are compared as they are, so they must be folded.
    data = read_file(path)
    for key, value in data:
        if isinstance(value, frozenset) and key not in EMOJI:
            for word in value:
                assert fold(word) == word, f"{path.name}: {key}: {word!r} is not folded"


def test_unknown_key_is_refused_with_the_file_named(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text("negators: not\n", encoding="utf-8")
    (tmp_path / "xx.yaml").write_text("human_nounz: [person]\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"(?s)xx\.yaml.*human_nounz"):
        load_lexicons(tmp_path)


def test_a_key_given_twice_is_refused_not_overwritten(tmp_path: Path) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text("negators: not\nthanks_words: thanks\nnegators: never\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"(?s)twice\.yaml.*duplicate key 'negators'"):
        read_file(twice)


def test_bad_weight_and_bad_regex_are_refused(tmp_path: Path) -> None:
    weight = tmp_path / "weight.yaml"
    weight.write_text("frustration: [{phrase: awful, weight: 3}]\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="weight"):
        read_file(weight)
    regex = tmp_path / "regex.yaml"
    regex.write_text("company_leads: ['(unclosed']\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="regular expression"):
        read_file(regex)


def test_empty_alternative_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("talk_verbs: ['talk||speak']\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="malformed"):
        read_file(path)


def test_a_new_language_file_adds_its_words_without_code(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text("negators: not\n", encoding="utf-8")
    (tmp_path / "sv.yaml").write_text("human_nouns: ['manniska|handlaggare']\nnegators: inte\n")
    files = load_lexicons(tmp_path)
    assert files["sv"].human_nouns == ("manniska|handlaggare",)
    assert "inte" in files["sv"].negators
