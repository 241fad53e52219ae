"""Word lists and phrase patterns of the offline rules engine, loaded from `agents/lexicons/*.yaml`.

The data lives in one YAML file per language (``en.yaml``, ``es.yaml``, ...: the request frames,
frustration cues, greetings and marker words of that language) and one ``common.yaml`` (cross-language
word lists, tokenisation hints and the extraction patterns). Each file is validated at import by
`LexiconFile`: an unknown key, an empty phrase, a bad regular expression or a weight outside 0..1
fails at start with the file and the key named. Adding a language is adding a file; adding a phrase
is editing one, with no code change. Every language file contributes to the shared word sets too,
so a language's own greetings or negators can live in its file.

Every entry is written in *folded* form (see `agents.language.fold`): lowercase, no accents, ``ß`` ->
``ss``, Arabic alef/ya/ta-marbuta unified, English contractions joined (``don't`` -> ``dont``,
``I'm`` -> ``im``) and French/Italian elisions split (``quelqu'un`` -> ``quelqu un``).

Phrase syntax (compiled by `agents.language.PhraseSet`): ``|`` separates alternative phrases; in a
phrase, words are separated by spaces, ``a/b`` is a choice for one word, a lone ``*`` is any one
word, and a trailing ``*`` matches any word starting with the stem (``frustrat*``).
``"sales rep/team|billing"`` is "sales rep", "sales team" or "billing".

Matching is language-independent on purpose: customers mix languages ("customer care se connect kar
do"); the language of a file only tags what matched, for the audit trail and language detection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

__all__ = ["LEXICON_DIR", "LexiconError", "LexiconFile", "WeightedPhrase", "load_lexicons"]

LEXICON_DIR = Path(__file__).with_name("lexicons")
COMMON = "common"


class LexiconError(ValueError):
    """A lexicon file is missing, unreadable or invalid."""


def _split_words(value: Any) -> Any:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    return value


def _split_chars(value: Any) -> Any:
    return frozenset(value) if isinstance(value, str) else value


def _phrases(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        for entry in value:
            if not isinstance(entry, str) or not entry.strip():
                raise ValueError(f"empty or non-text phrase: {entry!r}")
            for alternative in entry.split("|"):
                if not alternative.strip() or "  " in alternative or "//" in alternative:
                    raise ValueError(f"malformed alternative {alternative!r} in {entry!r}")
        return tuple(value)
    return value


def _regex(value: Any) -> Any:
    if isinstance(value, str):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc}") from exc
    return value


def _regexes(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_regex(v) for v in value)
    return value


Words = Annotated[frozenset[str], BeforeValidator(_split_words)]
Chars = Annotated[frozenset[str], BeforeValidator(_split_chars)]
Phrases = Annotated[tuple[str, ...], BeforeValidator(_phrases)]
Regex = Annotated[str, BeforeValidator(_regex)]
Regexes = Annotated[tuple[str, ...], BeforeValidator(_regexes)]


class WeightedPhrase(BaseModel):
    """A frustration cue and how much it alone says (cues combine as a noisy-or)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    phrase: Annotated[str, BeforeValidator(lambda v: _phrases(v)[0])]
    weight: float = Field(gt=0.0, le=1.0)


class LexiconFile(BaseModel):
    """One lexicon file. Every key is optional; per-language tables are keyed by the file's name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- per-language tables (tagged with the file's language) --------------------------------
    language_words: Words = frozenset()
    human_nouns: Phrases = ()
    someone: Phrases = ()
    departments: Phrases = ()
    talk_verbs: Phrases = ()
    connect_verbs: Phrases = ()
    contact_verbs: Phrases = ()
    want_verbs: Phrases = ()
    help_verbs: Phrases = ()
    bot_words: Phrases = ()
    real_person: Phrases = ()
    request_phrases: Phrases = ()
    bot_questions: Phrases = ()
    who_handles: Phrases = ()
    callback: Phrases = ()
    frustration: tuple[WeightedPhrase, ...] = ()
    greetings: Phrases = ()
    small_talk: Phrases = ()

    # -- word sets and phrase lists shared by all languages (unions over the files) -----------
    language_chars: dict[str, dict[str, float]] = Field(default_factory=dict)
    clause_conjunctions: Words = frozenset()
    postposed_want: Words = frozenset()
    about_words: Words = frozenset()
    with_words: Words = frozenset()
    with_me: Phrases = ()
    we_words: Words = frozenset()
    relative_words: Words = frozenset()
    articles: Words = frozenset()
    determiners: Words = frozenset()
    exist_before: Phrases = ()
    exist_after: Phrases = ()
    exist_any: Words = frozenset()
    third_party: Words = frozenset()
    first_person: Words = frozenset()
    call_me: Phrases = ()
    request_mood: Words = frozenset()
    call_me_idioms: Words = frozenset()
    bare_filler: Words = frozenset()
    greeting_filler: Words = frozenset()
    false_friend_before: Words = frozenset()
    false_friend_after: Words = frozenset()
    self_reference: Phrases = ()
    negation_before: Phrases = ()
    negation_after: Phrases = ()
    retractions: Phrases = ()
    process_questions: Phrases = ()
    of_words: Words = frozenset()
    interjection_no: Words = frozenset()
    subject_pronouns: Words = frozenset()
    person_articles: Words = frozenset()
    intensifiers: Words = frozenset()
    self_insults: Words = frozenset()
    interjections: Words = frozenset()
    asking_modals: Words = frozenset()
    self_words: Words = frozenset()
    self_fillers: Words = frozenset()
    positive_words: Words = frozenset()
    problem_words: Words = frozenset()
    weak_problem_words: Words = frozenset()
    sarcasm_markers: Phrases = ()
    hedges: Phrases = ()
    bot_rejection: Phrases = ()
    asked_again: Phrases = ()
    other_vendors: Phrases = ()
    about_us: Words = frozenset()
    get_back: Phrases = ()
    undecided: Phrases = ()
    rather_not_say: Phrases = ()
    passing_remarks: Phrases = ()
    give_up: Phrases = ()
    auto_reply_features: Phrases = ()
    answer_failed: Phrases = ()
    confirms_name: Phrases = ()
    bot_identity: Words = frozenset()
    from_words: Words = frozenset()
    question_words: Words = frozenset()
    question_leads: Words = frozenset()
    thanks_words: Words = frozenset()
    chatter_words: Words = frozenset()
    third_person_objects: Words = frozenset()
    talk_to_them: Words = frozenset()
    build_verbs: Words = frozenset()
    set_verbs: Words = frozenset()
    our_words: Words = frozenset()
    business_nouns: Words = frozenset()
    fix_words: Words = frozenset()
    price_question_words: Words = frozenset()
    price_question_not: Words = frozenset()
    measure_words: Words = frozenset()
    cost_verbs: Words = frozenset()
    self_openers: Words = frozenset()
    desire_verbs: Words = frozenset()
    asking_words: Words = frozenset()
    follow_up_openers: Words = frozenset()
    how_words: Words = frozenset()
    change_verbs: Words = frozenset()
    enough_words: Words = frozenset()
    enquiry_words: Words = frozenset()
    surroundings: Words = frozenset()
    trade_nouns: Words = frozenset()
    own_slips: Words = frozenset()
    lost_words: Words = frozenset()
    own_items: Words = frozenset()
    make_verbs: Words = frozenset()
    helpful_praise: Phrases = ()
    correction_cues: Phrases = ()
    ask_verbs: Words = frozenset()
    praise_verbs: Words = frozenset()
    say_verbs: Words = frozenset()
    report_verbs: Words = frozenset()
    quote_nouns: Words = frozenset()
    someone_else: Words = frozenset()
    who_words: Words = frozenset()
    hours_words: Words = frozenset()
    online_things: Words = frozenset()
    possessives: Words = frozenset()
    own_staff: Words = frozenset()
    dislike_verbs: Words = frozenset()
    disliked_of_ours: Words = frozenset()
    at_words: Words = frozenset()
    company_words: Words = frozenset()
    wanting_to_know: Words = frozenset()
    correction_words: Words = frozenset()
    complaint_stems: Words = frozenset()
    consult_verbs: Words = frozenset()
    plural_objects: Words = frozenset()
    purpose_words: Words = frozenset()
    small_talk_goes_on: Words = frozenset()
    apology_words: Words = frozenset()
    recipient_words: Words = frozenset()
    your_side: Words = frozenset()
    idle_question: Phrases = ()
    calm_phrases: Phrases = ()
    satisfied: Phrases = ()
    self_deprecating: Phrases = ()
    bare_no: Words = frozenset()
    unrealised_words: Words = frozenset()
    helper_verbs: Words = frozenset()
    leave_stems: Words = frozenset()
    leave_past_endings: Words = frozenset()
    leave_not_objects: Words = frozenset()
    conditional_words: Words = frozenset()
    again_words: Words = frozenset()
    again_pairs: Phrases = ()
    chase_words: Words = frozenset()
    sent_words: Words = frozenset()
    weekdays: Words = frozenset()
    nothing_words: Words = frozenset()
    time_units: Words = frozenset()
    span_words: Words = frozenset()
    relative_after_comma: Words = frozenset()
    available_words: Words = frozenset()
    use_case_adverbs: Words = frozenset()
    past_markers: Words = frozenset()
    past_time_before: Words = frozenset()
    team_words: Words = frozenset()
    angry_emoji: Chars = frozenset()
    annoyed_emoji: Chars = frozenset()
    positive_emoji: Chars = frozenset()
    accept_words: Words = frozenset()
    your_words: Words = frozenset()
    team_nouns: Words = frozenset()
    another_leads: Words = frozenset()
    ack_words: Words = frozenset()
    ack_filler: Words = frozenset()
    loop_stopwords: Words = frozenset()
    function_words: Words = frozenset()
    shorthand: dict[str, str] = Field(default_factory=dict)
    info_words: Words = frozenset()
    count_more: Words = frozenset()
    ask_nouns: Words = frozenset()
    thing_nouns: Words = frozenset()
    another_words: Words = frozenset()
    none_words: Words = frozenset()
    count_than: Words = frozenset()
    count_one: Words = frozenset()
    only_words: Words = frozenset()
    or_words: Words = frozenset()
    light_words: Words = frozenset()
    per_words: Words = frozenset()
    negators: Words = frozenset()
    number_words: Words = frozenset()
    arabic_prefixes: tuple[str, ...] = ()

    # -- extraction (regular expressions on the original text, case-insensitive) --------------
    company_leads: Regexes = ()
    company_leads_weak: Regexes = ()
    company_leads_named: Regexes = ()
    company_leads_role: Regexes = ()
    self_intro_leads: Regexes = ()
    named_person_present: Regexes = ()
    company_prefixes: Regexes = ()
    company_suffixes: Regex = ""
    name_articles: Words = frozenset()
    name_stop: Words = frozenset()
    not_company: Words = frozenset()
    yes_no: Words = frozenset()
    not_name_start: Words = frozenset()
    people_served: Words = frozenset()
    use_case_leads: Regexes = ()
    use_case_answer_leads: Regexes = ()
    use_case_trim_end: Regex = ""
    staff_nouns: Regex = ""
    solo_phrases: Regex = ""
    currency: Regex = ""
    budget_words: Regex = ""

    @field_validator("language_chars")
    @classmethod
    def _weights(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for char, weights in value.items():
            if len(char) != 1 or any(not 0 < w <= 2 for w in weights.values()):
                raise ValueError(f"language_chars: {char!r} needs one character and weights in (0, 2]")
        return value


PER_LANGUAGE = (
    "language_words",
    "human_nouns",
    "someone",
    "departments",
    "talk_verbs",
    "connect_verbs",
    "contact_verbs",
    "want_verbs",
    "help_verbs",
    "bot_words",
    "real_person",
    "request_phrases",
    "bot_questions",
    "who_handles",
    "callback",
    "frustration",
    "greetings",
    "small_talk",
)


# libyaml's parser when PyYAML has it (about four times faster on the lexicons), else PyYAML's own.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """YAML's safe loader, refusing a key given twice in one mapping: the second would silently
    replace the first list of words."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


def read_file(path: Path) -> LexiconFile:
    """Load and validate one lexicon file."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
        return LexiconFile.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise LexiconError(f"{path.name}: {exc}") from exc


@cache
def load_lexicons(directory: Path = LEXICON_DIR) -> dict[str, LexiconFile]:
    """Every lexicon file of `directory`, by name (``common`` and the language codes)."""
    files = {p.stem: read_file(p) for p in sorted(directory.glob("*.yaml"))}
    if COMMON not in files:
        raise LexiconError(f"{directory}: no {COMMON}.yaml")
    return files


_FILES = load_lexicons()
LANGUAGES: tuple[str, ...] = tuple(name for name in _FILES if name != COMMON)


# Chat shorthand and the word it stands for; messages are read with it (`agents.language`), and
# the word lists below hold the full word in its place.
SHORTHAND: Mapping[str, str] = {k: v for f in _FILES.values() for k, v in f.shorthand.items()}


_THAI_RUN = re.compile(r"[\u0e00-\u0e7f]+")


def _thai_words() -> frozenset[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.update(_THAI_RUN.findall(value))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    for f in _FILES.values():
        walk(f.model_dump())
    return frozenset(found)


# The Thai words of the lexicons, as written: Thai has no spaces between words, and messages are
# segmented over this dictionary (`agents.language`).
THAI_WORDS = _thai_words()


def _words(words: frozenset[str]) -> frozenset[str]:
    return frozenset(SHORTHAND.get(w, w) for w in words)


def _table(key: str) -> Mapping[str, Any]:
    table = {lang: getattr(_FILES[lang], key) for lang in LANGUAGES if getattr(_FILES[lang], key)}
    return {lang: _words(v) if isinstance(v, frozenset) else v for lang, v in table.items()}


def _union(key: str) -> frozenset[str]:
    out: set[str] = set()
    for f in _FILES.values():
        out |= getattr(f, key)
    return _words(frozenset(out))


def _concat(key: str) -> tuple[str, ...]:
    return tuple(entry for f in _FILES.values() for entry in getattr(f, key))


def _common(key: str) -> Any:
    return getattr(_FILES[COMMON], key)


LANGUAGE_WORDS: Mapping[str, frozenset[str]] = _table("language_words")
HUMAN_NOUNS: Mapping[str, tuple[str, ...]] = _table("human_nouns")
SOMEONE: Mapping[str, tuple[str, ...]] = _table("someone")
DEPARTMENTS: Mapping[str, tuple[str, ...]] = _table("departments")
TALK_VERBS: Mapping[str, tuple[str, ...]] = _table("talk_verbs")
CONNECT_VERBS: Mapping[str, tuple[str, ...]] = _table("connect_verbs")
CONTACT_VERBS: Mapping[str, tuple[str, ...]] = _table("contact_verbs")
WANT_VERBS: Mapping[str, tuple[str, ...]] = _table("want_verbs")
HELP_VERBS: Mapping[str, tuple[str, ...]] = _table("help_verbs")
BOT_WORDS: Mapping[str, tuple[str, ...]] = _table("bot_words")
REAL_PERSON: Mapping[str, tuple[str, ...]] = _table("real_person")
REQUEST_PHRASES: Mapping[str, tuple[str, ...]] = _table("request_phrases")
BOT_QUESTIONS: Mapping[str, tuple[str, ...]] = _table("bot_questions")
WHO_HANDLES: Mapping[str, tuple[str, ...]] = _table("who_handles")
CALLBACK: Mapping[str, tuple[str, ...]] = _table("callback")
GREETINGS: Mapping[str, tuple[str, ...]] = _table("greetings")
SMALL_TALK: Mapping[str, tuple[str, ...]] = _table("small_talk")
FRUSTRATION: Mapping[str, tuple[tuple[str, float], ...]] = {
    lang: tuple((w.phrase, w.weight) for w in entries) for lang, entries in _table("frustration").items()
}

LANGUAGE_CHARS: Mapping[str, tuple[tuple[str, float], ...]] = {
    char: tuple(weights.items()) for f in _FILES.values() for char, weights in f.language_chars.items()
}
CLAUSE_CONJUNCTIONS = _union("clause_conjunctions")
POSTPOSED_WANT = _union("postposed_want")
ABOUT_WORDS = _union("about_words")
WITH_WORDS = _union("with_words")
WE_WORDS = _union("we_words")
RELATIVE_WORDS = _union("relative_words")
ARTICLES = _union("articles")
DETERMINERS = _union("determiners")
EXIST_BEFORE = _concat("exist_before")
EXIST_AFTER = _concat("exist_after")
EXIST_ANY = _union("exist_any")
THIRD_PARTY = _union("third_party")
FIRST_PERSON = _union("first_person")
CALL_ME = _concat("call_me")
REQUEST_MOOD = _union("request_mood")
CALL_ME_IDIOMS = _union("call_me_idioms")
BARE_FILLER = _union("bare_filler")
GREETING_FILLER = _union("greeting_filler")
FALSE_FRIEND_BEFORE = _union("false_friend_before")
FALSE_FRIEND_AFTER = _union("false_friend_after")
SELF_REFERENCE = _concat("self_reference")
NEGATION_BEFORE = _concat("negation_before")
NEGATION_AFTER = _concat("negation_after")
RETRACTIONS = _concat("retractions")
PROCESS_QUESTIONS = _concat("process_questions")
OF_WORDS = _union("of_words")
INTERJECTION_NO = _union("interjection_no")
SUBJECT_PRONOUNS = _union("subject_pronouns")
PERSON_ARTICLES = _union("person_articles")
INTENSIFIERS = _union("intensifiers")
SELF_INSULTS = _union("self_insults")
INTERJECTIONS = _union("interjections")
ASKING_MODALS = _union("asking_modals")
SELF_WORDS = _union("self_words")
SELF_FILLERS = _union("self_fillers")
POSITIVE_WORDS = _union("positive_words")
PROBLEM_WORDS = _union("problem_words")
WEAK_PROBLEM_WORDS = _union("weak_problem_words")
SARCASM_MARKERS = _concat("sarcasm_markers")
HEDGES = _concat("hedges")
BOT_REJECTION = _concat("bot_rejection")
ASKED_AGAIN = _concat("asked_again")
OTHER_VENDORS = _concat("other_vendors")
ABOUT_US = _union("about_us")
GET_BACK = _concat("get_back")
UNDECIDED = _concat("undecided")
RATHER_NOT_SAY = _concat("rather_not_say")
PASSING_REMARKS = _concat("passing_remarks")
GIVE_UP = _concat("give_up")
AUTO_REPLY_FEATURES = _concat("auto_reply_features")
ANSWER_FAILED = _concat("answer_failed")
CONFIRMS_NAME = _concat("confirms_name")
BOT_IDENTITY = _union("bot_identity")
FROM_WORDS = _union("from_words")
QUESTION_WORDS = _union("question_words")
QUESTION_LEADS = _union("question_leads")
THANKS_WORDS = _union("thanks_words")
CHATTER_WORDS = _union("chatter_words")
THIRD_PERSON_OBJECTS = _union("third_person_objects")
TALK_TO_THEM = _union("talk_to_them")
BUILD_VERBS = _union("build_verbs")
SET_VERBS = _union("set_verbs")
OUR_WORDS = _union("our_words")
BUSINESS_NOUNS = _union("business_nouns")
FIX_WORDS = _union("fix_words")
PRICE_QUESTION_WORDS = _union("price_question_words")
PRICE_QUESTION_NOT = _union("price_question_not")
MEASURE_WORDS = _union("measure_words")
COST_VERBS = _union("cost_verbs")
SELF_OPENERS = _union("self_openers")
DESIRE_VERBS = _union("desire_verbs")
ASKING_WORDS = _union("asking_words")
FOLLOW_UP_OPENERS = _union("follow_up_openers")
HOW_WORDS = _union("how_words")
CHANGE_VERBS = _union("change_verbs")
ENOUGH_WORDS = _union("enough_words")
ENQUIRY_WORDS = _union("enquiry_words")
SURROUNDINGS = _union("surroundings")
TRADE_NOUNS = _union("trade_nouns")
OWN_SLIPS = _union("own_slips")
LOST_WORDS = _union("lost_words")
OWN_ITEMS = _union("own_items")
MAKE_VERBS = _union("make_verbs")
HELPFUL_PRAISE = _concat("helpful_praise")
CORRECTION_CUES = _concat("correction_cues")
ASK_VERBS = _union("ask_verbs")
PRAISE_VERBS = _union("praise_verbs")
SAY_VERBS = _union("say_verbs")
REPORT_VERBS = _union("report_verbs")
QUOTE_NOUNS = _union("quote_nouns")
SOMEONE_ELSE = _union("someone_else")
WHO_WORDS = _union("who_words")
HOURS_WORDS = _union("hours_words")
ONLINE_THINGS = _union("online_things")
POSSESSIVES = _union("possessives")
OWN_STAFF = _union("own_staff")
DISLIKE_VERBS = _union("dislike_verbs")
DISLIKED_OF_OURS = _union("disliked_of_ours")
AT_WORDS = _union("at_words")
COMPANY_WORDS = _union("company_words")
WANTING_TO_KNOW = _union("wanting_to_know")
CORRECTION_WORDS = _union("correction_words")
COMPLAINT_STEMS = tuple(sorted(_union("complaint_stems")))
CONSULT_VERBS = _union("consult_verbs")
PLURAL_OBJECTS = _union("plural_objects")
PURPOSE_WORDS = _union("purpose_words")
SMALL_TALK_GOES_ON = _union("small_talk_goes_on")
APOLOGY_WORDS = _union("apology_words")
RECIPIENT_WORDS = _union("recipient_words")
YOUR_SIDE = _union("your_side")
IDLE_QUESTION = _concat("idle_question")
WITH_ME = _concat("with_me")
CALM_PHRASES = _concat("calm_phrases")
SATISFIED = _concat("satisfied")
SELF_DEPRECATING = _concat("self_deprecating")
BARE_NO = _union("bare_no")
UNREALISED_WORDS = _union("unrealised_words")
HELPER_VERBS = _union("helper_verbs")
LEAVE_STEMS: tuple[str, ...] = tuple(sorted(_union("leave_stems")))
LEAVE_PAST_ENDINGS: tuple[str, ...] = tuple(sorted(_union("leave_past_endings")))
CONDITIONAL_WORDS = _union("conditional_words")
AGAIN_WORDS = _union("again_words")
AGAIN_PAIRS = frozenset(tuple(p.split()) for p in _concat("again_pairs"))
CHASE_WORDS = _union("chase_words")
SENT_WORDS = _union("sent_words")
WEEKDAYS = _union("weekdays")
NOTHING_WORDS = _union("nothing_words")
TIME_UNITS = _union("time_units")
SPAN_WORDS = _union("span_words")
LEAVE_NOT_OBJECTS = _union("leave_not_objects")
RELATIVE_AFTER_COMMA = _union("relative_after_comma")
AVAILABLE_WORDS = _union("available_words")
USE_CASE_ADVERBS = _union("use_case_adverbs")
PAST_MARKERS = _union("past_markers")
PAST_TIME_BEFORE = _union("past_time_before")
TEAM_WORDS = _union("team_words")
ANGRY_EMOJI = _union("angry_emoji")
ANNOYED_EMOJI = _union("annoyed_emoji")
POSITIVE_EMOJI = _union("positive_emoji")
ACCEPT_WORDS = _union("accept_words")
YOUR_WORDS = _union("your_words")
TEAM_NOUNS = _union("team_nouns")
ANOTHER_LEADS = _union("another_leads")
ACK_WORDS = _union("ack_words")
ACK_FILLER = _union("ack_filler")
LOOP_STOPWORDS = _union("loop_stopwords")
FUNCTION_WORDS = _union("function_words")
INFO_WORDS = _union("info_words")
COUNT_MORE = _union("count_more")
ASK_NOUNS = _union("ask_nouns")
THING_NOUNS = _union("thing_nouns")
ANOTHER_WORDS = _union("another_words")
NONE_WORDS = _union("none_words")
COUNT_THAN = _union("count_than")
COUNT_ONE = _union("count_one")
ONLY_WORDS = _union("only_words")
OR_WORDS = _union("or_words")
LIGHT_WORDS = _union("light_words")
PER_WORDS = _union("per_words")
NEGATORS = _union("negators")
NUMBER_WORDS = _union("number_words")
# Problem words that name a problem by themselves: not the weak ones ("still", "again"), not a bare
# negation ("not", "no").
STRONG_PROBLEM_WORDS = PROBLEM_WORDS - WEAK_PROBLEM_WORDS - BARE_NO - NEGATORS
ARABIC_PREFIXES: tuple[str, ...] = tuple(
    sorted(dict.fromkeys(_concat("arabic_prefixes")), key=len, reverse=True)
)

COMPANY_LEADS = _concat("company_leads")
COMPANY_LEADS_WEAK = _concat("company_leads_weak")
COMPANY_LEADS_NAMED = _concat("company_leads_named")
COMPANY_LEADS_ROLE = _concat("company_leads_role")
SELF_INTRO_LEADS = _concat("self_intro_leads")
NAMED_PERSON_PRESENT = _concat("named_person_present")
COMPANY_PREFIXES = _concat("company_prefixes")
COMPANY_SUFFIXES: str = _common("company_suffixes")
NAME_ARTICLES = _union("name_articles")
NAME_STOP = _union("name_stop")
NOT_COMPANY = _union("not_company")
YES_NO = _union("yes_no")
NOT_NAME_START = _union("not_name_start")
PEOPLE_SERVED = _union("people_served")
USE_CASE_LEADS = _concat("use_case_leads")
USE_CASE_ANSWER_LEADS = _concat("use_case_answer_leads")
USE_CASE_TRIM_END: str = _common("use_case_trim_end")
STAFF_NOUNS: str = _common("staff_nouns")
SOLO_PHRASES: str = _common("solo_phrases")
CURRENCY: str = _common("currency")
BUDGET_WORDS: str = _common("budget_words")
