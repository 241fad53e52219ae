"""Text normalisation and offline language detection shared by the rule agents.

Everything here is deterministic and dependency-free (stdlib only):

- `fold` lowercases, strips Latin accents and Arabic diacritics, unifies apostrophes and a few
  letters (``ß`` -> ``ss``, Arabic alef/ya/ta-marbuta forms) so that "Dónde", "donde" and "DONDE"
  compare equal.
- `analyse` splits a message into `Token`s (folded text, offsets into the original for evidence,
  clause number) and is cached, because the sentinel and the extractors read the same message.
- `detect_language` scores marker words and characters per language and answers the default when
  the evidence is thin ("ok", "Hi", "Umbrella Corp").
- `PhraseSet` compiles the phrase entries of `agents.lexicon` (choices, stems, multi-word phrases)
  and finds them in a message's tokens, allowing a few extra words in between when asked to;
  Arabic clitic prefixes (و, ال, بال, ...) are stripped by `word_forms` while matching.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agents import lexicon

__all__ = [
    "SUPPORTED_LANGUAGES",
    "Analysis",
    "Match",
    "Phrase",
    "PhraseSet",
    "Token",
    "analyse",
    "detect_language",
    "fold",
    "is_known_word",
    "rules_cover",
    "word_forms",
]

# The languages are the lexicon files (a new file is a new language); ties in detection go to the
# earlier one in this order, new languages last.
_TIE_ORDER = ("en", "es", "pt", "fr", "de", "it", "hi", "id", "ar", "nl")
SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(
    sorted(lexicon.LANGUAGES, key=lambda lang: (_TIE_ORDER.index(lang) if lang in _TIE_ORDER else 99, lang))
)

# Letters plus the combining marks Devanagari and Arabic words are made of (\w alone splits them).
# Vowel signs and other marks are part of the word in the scripts of India and in Thai ("মানুষের" is
# one word, not four).
_WORD = re.compile(r"(?:[^\W_]|[\u0900-\u0963\u0966-\u0dff\u0e00-\u0e7f\u0610-\u061a\u064b-\u065f\u0670])+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
# English contractions join (don't -> dont); French/Italian elisions split (j'aimerais -> j aimerais).
_CONTRACTION_TAILS = frozenset({"t", "m", "re", "s", "d", "ll", "ve"})
_SPECIAL = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ı": "i", "ـ": ""}
_ARABIC = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
_CLAUSE_PUNCT = frozenset(".,;:!?¿¡،؟؛\n()[]।॥")
# Emoji and pictographs end a clause as punctuation does ("system yenu imeniharibia 😩 kuna mtu
# anaweza nipigia?").
_EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")
_LETTER_SCRIPTS = (
    ("\u0600", "\u06ff", "ar"),
    ("\u0900", "\u097f", "hi"),
    ("\u0980", "\u09ff", "bn"),
    ("\u0400", "\u04ff", "ru"),
    ("\u0e00", "\u0e7f", "th"),
)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char in _SPECIAL:
        return _SPECIAL[char]
    lowered = char.lower()
    if lowered in _SPECIAL:
        return _SPECIAL[lowered]
    if lowered in _ARABIC:
        return _ARABIC[lowered]
    if "\u064b" <= char <= "\u065f" or char == "\u0670":  # Arabic harakat: never part of the spelling
        return ""
    if char.isascii():
        return lowered
    if "\u0900" <= char <= "\u097f" or "\u0e00" <= char <= "\u0e7f":
        return char  # Devanagari and Thai vowel signs and Thai tone marks are letters: keep them
    decomposed = unicodedata.normalize("NFKD", lowered)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(_ARABIC.get(c, c) for c in kept)


def _fold_with_map(text: str) -> tuple[str, tuple[int, ...]]:
    """Fold `text` and map every folded character back to its index in `text`."""
    text = text.translate(_APOSTROPHES)
    if text.isascii():
        return text.lower(), tuple(range(len(text)))
    out: list[str] = []
    index: list[int] = []
    for i, char in enumerate(text):
        folded = _fold_char(char)
        out.append(folded)
        index.extend([i] * len(folded))
    return "".join(out), tuple(index)


# Marks only Vietnamese spelling uses among the languages served: dot below, hook above, horn.
_VIETNAMESE_MARKS = frozenset("\u0323\u0309\u031b")


def vietnamese_spelling(word: str) -> bool:
    """ "chị", "được", "đâu": a word spelled with marks only Vietnamese uses, so that it is not the
    word of another language it folds to ("chị" is no Italian "chi")."""
    return "đ" in word.lower() or not _VIETNAMESE_MARKS.isdisjoint(unicodedata.normalize("NFD", word))


def fold(text: str) -> str:
    """Lowercase and strip accents/diacritics: ``fold("¿Dónde ESTÁ?") == "¿donde esta?"``."""
    return _fold_with_map(text)[0]


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a message: folded `text`, `start`/`end` offsets in the original, `clause` number."""

    text: str
    start: int
    end: int
    clause: int


@dataclass(frozen=True, slots=True)
class Analysis:
    """A message split into tokens; `raw` is the original text, `folded` its folded form."""

    raw: str
    folded: str
    tokens: tuple[Token, ...]
    words: tuple[str, ...]  # the tokens' folded texts

    def span(self, first: int, last: int) -> str:
        """Original text from token `first` to token `last` (inclusive), for evidence."""
        return self.raw[self.tokens[first].start : self.tokens[last].end]

    def within(self, start: int, end: int) -> list[int]:
        """Indexes of the tokens inside characters `start`..`end` of the original (`span`'s inverse)."""
        return [i for i, t in enumerate(self.tokens) if start <= t.start and t.end <= end]


def _split_apostrophes(folded: str) -> str:
    """``don't`` -> ``dont``; ``j'aimerais`` -> ``j aimerais``; ``quelqu'un`` -> ``quelqu un``."""

    def fix(match: re.Match[str]) -> str:
        head, tail = match.group(1), match.group(2)
        return head + tail if tail in _CONTRACTION_TAILS else f"{head} {tail}"

    return re.sub(r"(\w)'(\w+)", fix, folded)


@lru_cache(maxsize=2048)
def analyse(text: str) -> Analysis:
    """Tokenise `text` (cached: every agent reads the same inbound message)."""
    folded, index = _fold_with_map(text)
    # Apostrophe handling changes lengths, so tokenise on the folded text with apostrophes blanked
    # and rebuild each token's text from its parts.
    spaced = _split_apostrophes(folded)
    if len(spaced) != len(folded):
        return _analyse_slow(text, folded, index)
    return _tokenise(text, folded, folded, index)


def _analyse_slow(text: str, folded: str, index: tuple[int, ...]) -> Analysis:
    # Contractions were joined: work on a copy where joined apostrophes are dropped and elisions
    # become spaces, keeping a parallel index map.
    chars: list[str] = []
    new_index: list[int] = []
    i = 0
    while i < len(folded):
        char = folded[i]
        if char == "'" and 0 < i < len(folded) - 1 and folded[i - 1].isalnum() and folded[i + 1].isalnum():
            tail = re.match(r"\w+", folded[i + 1 :])
            if tail and tail.group(0) in _CONTRACTION_TAILS:
                i += 1
                continue
            chars.append(" ")
            new_index.append(index[i])
            i += 1
            continue
        chars.append(char)
        new_index.append(index[i])
        i += 1
    return _tokenise(text, folded, "".join(chars), tuple(new_index))


_THAI = re.compile(r"[\u0e00-\u0e7f]")
_REPEATED = re.compile(r"(.)\1*", re.DOTALL)


@lru_cache(maxsize=1)
def _thai_dictionary() -> Any:
    # Imported on the first Thai message: a process that never sees Thai does not load it.
    from pythainlp.util import Trie

    return Trie({fold(word) for word in lexicon.THAI_WORDS})


def _thai_pieces(word: str) -> list[tuple[int, int, str]]:
    """Where the words of a run of Thai are (offsets in `word`): segmented by newmm (maximal
    matching over the lexicons' Thai words, and Thai character clusters for the rest), with each
    word's text. A letter typed three times or more is one ("ขอบคุณครับบบ", "สวัสดีค่าาา"); twice
    it may be two words' ("กับบอท")."""
    from pythainlp.tokenize.newmm import segment

    kept = [
        m.start() + i
        for m in _REPEATED.finditer(word)
        for i in range(len(m.group(0)) if len(m.group(0)) < 3 else 1)
    ]
    squeezed = "".join(word[i] for i in kept)
    kept.append(len(word))
    pieces: list[tuple[int, int, str]] = []
    at = 0
    for piece in segment(squeezed, custom_dict=_thai_dictionary()):
        if piece.strip():
            pieces.append((kept[at], kept[at + len(piece)], piece))
        at += len(piece)
    return pieces


def _words_of(match: re.Match[str]) -> list[tuple[int, int, str]]:
    """The words of one run of letters, as offsets in the text and text: the run itself, or, in
    Thai, the words it is made of ("ขอคุยกับเจ้าหน้าที่" is "ขอ คุย กับ เจ้าหน้าที่")."""
    if not _THAI.search(match.group(0)):
        return [(match.start(), match.end(), match.group(0))]
    return [(match.start() + a, match.start() + b, piece) for a, b, piece in _thai_pieces(match.group(0))]


def _tokenise(text: str, folded: str, work: str, index: tuple[int, ...]) -> Analysis:
    tokens: list[Token] = []
    clause = 0
    last_end = 0
    # (Most messages have neither: the checks per word are skipped for them.)
    thai = bool(lexicon.THAI_WORDS) and _THAI.search(work) is not None
    emoji = _EMOJI.search(work) is not None
    for match in _WORD.finditer(work):
        gap = work[last_end : match.start()]
        # (Thai ends a sentence with a space: "ไม่อยากคุยกับบอท ขอคุยกับคนจริง".)
        thai_space = (
            thai
            and gap.isspace()
            and _THAI.match(match.group(0)) is not None
            and _THAI.match(work, last_end - 1) is not None
        )
        if tokens and (
            any(c in _CLAUSE_PUNCT for c in gap)
            or " - " in gap
            or (emoji and _EMOJI.search(gap) is not None)
            or thai_space
        ):
            clause += 1
        pieces = _words_of(match) if thai else ((match.start(), match.end(), match.group(0)),)
        for first, last, piece in pieces:
            word = lexicon.SHORTHAND.get(piece, piece)
            if word[-1] == "2" and len(word) >= 4 and word[:-1].isalpha():
                word = word[:-1]  # reduplication: "dibales2" is "dibales-dibales", "rame2" is "rame-rame"
            if tokens and word in lexicon.CLAUSE_CONJUNCTIONS:
                clause += 1
            start = index[first] if first < len(index) else len(text)
            end = index[last - 1] + 1 if last - 1 < len(index) else len(text)
            tokens.append(Token(word, start, end, clause))
        last_end = match.end()
    return Analysis(raw=text, folded=folded, tokens=tuple(tokens), words=tuple(t.text for t in tokens))


def _script_language(text: str) -> str | None:
    counts = dict.fromkeys(("ar", "hi", "bn", "ru", "th", "latin"), 0)
    for char in text:
        if not char.isalpha():
            continue
        for low, high, lang in _LETTER_SCRIPTS:
            if low <= char <= high:
                counts[lang] += 1
                break
        else:
            counts["latin"] += 1
    letters = sum(counts.values())
    if not letters:
        return None
    for lang in ("ar", "hi", "bn", "ru", "th"):
        if counts[lang] / letters >= 0.5:
            return lang
    return None


def _lexicon_words(entries: Iterable[str]) -> set[str]:
    """Single plain words of phrase entries (no stems, no multi-word phrases)."""
    words: set[str] = set()
    for entry in entries:
        for alternative in entry.split("|"):
            if " " not in alternative.strip() and "*" not in alternative:
                words.update(fold(choice) for choice in alternative.strip().split("/") if choice)
    return words


def _language_markers() -> dict[str, tuple[tuple[str, float], ...]]:
    """Word -> ((language, weight), ...).

    Function words (`lexicon.LANGUAGE_WORDS`) weigh 1 and the single words of the per-language
    request and frustration lexicons 0.75; a word listed for k languages is split k ways.
    """
    weights: dict[str, dict[str, float]] = {}
    for lang in SUPPORTED_LANGUAGES:
        tables = (
            lexicon.HUMAN_NOUNS,
            lexicon.SOMEONE,
            lexicon.TALK_VERBS,
            lexicon.CONNECT_VERBS,
            lexicon.CONTACT_VERBS,
            lexicon.WANT_VERBS,
            lexicon.HELP_VERBS,
        )
        entries = [e for table in tables for e in table.get(lang, ())]
        entries += [e for e, _ in lexicon.FRUSTRATION.get(lang, ())]
        for word in _lexicon_words(entries):
            weights.setdefault(word, {})[lang] = 0.75
        for word in lexicon.LANGUAGE_WORDS.get(lang, ()):
            weights.setdefault(word, {})[lang] = 1.0
    return {
        word: tuple((lang, weight / len(langs)) for lang, weight in langs.items())
        for word, langs in weights.items()
    }


_MARKERS = _language_markers()


_STRETCHED_END = re.compile(r"(\w)\1+$")


# The language most customers of a country write in, among the supported ones: it settles a tie
# ("salve" greets in Italian and in Portuguese) when no other word decides, nothing more.
COUNTRY_LANGUAGES: dict[str, str] = {
    **dict.fromkeys(
        (
            "ES",
            "MX",
            "AR",
            "CO",
            "CL",
            "PE",
            "VE",
            "EC",
            "GT",
            "CU",
            "BO",
            "DO",
            "HN",
            "PY",
            "SV",
            "NI",
            "CR",
            "PA",
            "UY",
        ),
        "es",
    ),
    **dict.fromkeys(("BR", "PT", "AO", "MZ"), "pt"),
    **dict.fromkeys(("IT", "SM"), "it"),
    **dict.fromkeys(("DE", "AT"), "de"),
    **dict.fromkeys(("FR",), "fr"),
    **dict.fromkeys(("NL",), "nl"),
    **dict.fromkeys(("TR",), "tr"),
    **dict.fromkeys(("PL",), "pl"),
    **dict.fromkeys(("ID",), "id"),
}


_ABBREVIATION = re.compile(r"\b(?:[^\W\d_]\.){2,}(?:[^\W\d_]\b\.?)?")


def detect_language(
    text: str, *, default: str = "en", current: str | None = None, country: str | None = None
) -> str:
    """ISO 639-1 code of `text` among en es pt fr de it hi id ar nl; `default` when unsure.

    Hindi written in Latin script (Hinglish) is ``"hi"``. Arabic and Devanagari are decided by
    script; Latin-script languages by marker words (a word shared by k languages counts 1/k for
    each) and letters (``ñ``, ``ã``, ``ß``). The winner must be clear: a score of at least 1 and a
    margin of 0.5 over the runner-up, so "ok", "Hi" or "Umbrella Corp" answer `default`. With the
    conversation's `current` language, a message leaves it only by a clear lead (1.5 and a margin
    of 1 over `current`): "bedrijfsnaam is Fietsenmakerij De Spaak" in a Dutch conversation stays
    Dutch. A tie between languages, one of them the `country`'s (of the customer's number), goes to
    that one ("salve" from an Italian number is Italian).
    """
    hint = COUNTRY_LANGUAGES.get(country or "")
    scripted = _script_language(text)
    if scripted:
        return scripted
    if len(analyse(text).words) == 1:
        # A one-word greeting is its greeting's language: "yo" greets in English, whatever it
        # means in Spanish.
        greeting = _greeting_language(text, hint=hint)
        if greeting:
            return greeting
    scores = dict.fromkeys(SUPPORTED_LANGUAGES, 0.0)
    lowered = text.lower()
    for char, weights in lexicon.LANGUAGE_CHARS.items():
        if char in lowered:
            for lang, weight in weights:
                scores[lang] += weight
    # "INVERSIONES ROSITA E.I.R.L.", "S.A. de C.V.": the letters of an abbreviation are no words
    # ("I", "r" for "are").
    for word in analyse(_ABBREVIATION.sub(" ", text)).words:
        # "holaa", "graciasss": a stretched last letter is the word.
        markers = _MARKERS.get(word) or _MARKERS.get(_STRETCHED_END.sub(r"\1", word), ())
        for lang, weight in markers:
            scores[lang] += weight
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], SUPPORTED_LANGUAGES.index(kv[0])))
    (best, top), (_, second) = ranked[0], ranked[1]
    if current in scores and best != current and (top < 1.5 or top - scores[current] < 1.0):
        return current
    if top >= 1.0 and top - second >= 0.5:
        return best
    if hint in scores and current is None and top > 0 and scores[hint] == top:
        return hint  # a tie the country settles
    return _greeting_language(text, hint=hint) or default


@lru_cache(maxsize=1)
def _greetings() -> dict[str, PhraseSet]:
    return {lang: PhraseSet.of(entries) for lang, entries in lexicon.GREETINGS.items()}


def _greeting_language(text: str, *, hint: str | None = None) -> str | None:
    """The language of a greeting that opens `text` when only one language has it ("boa noite",
    "Goedemorgen", "selamat pagi"), or when `hint` (the country's language) is one of the few that
    have it ("salve": Italian or Portuguese); None for one many share ("hi", "hallo") or none."""
    words = analyse(text).words
    found = {lang for lang, phrases in _greetings().items() if any(m.first == 0 for m in phrases.find(words))}
    if len(found) == 1:
        return found.pop()
    return hint if hint in found and len(found) <= 4 else None


def _known_words() -> frozenset[str]:
    """Every single word the lexicons know, in any language."""
    tables = (
        lexicon.HUMAN_NOUNS,
        lexicon.SOMEONE,
        lexicon.TALK_VERBS,
        lexicon.CONNECT_VERBS,
        lexicon.CONTACT_VERBS,
        lexicon.WANT_VERBS,
        lexicon.GREETINGS,
        lexicon.SMALL_TALK,
        lexicon.REQUEST_PHRASES,
        lexicon.BOT_QUESTIONS,
        lexicon.CALLBACK,
    )
    words = _lexicon_words(e for table in tables for entries in table.values() for e in entries)
    words |= {w for entry in lexicon.FRUSTRATION.values() for e, _ in entry for w in _lexicon_words([e])}
    for phrase_words in (lexicon.GREETINGS, lexicon.SMALL_TALK):
        for entries in phrase_words.values():
            for entry in entries:
                words.update(w for w in entry.replace("|", " ").replace("/", " ").split() if "*" not in w)
    words |= lexicon.ACK_WORDS | lexicon.ACK_FILLER | lexicon.BARE_FILLER | lexicon.GREETING_FILLER
    words |= lexicon.POSITIVE_WORDS | lexicon.QUESTION_WORDS | lexicon.PROBLEM_WORDS
    return frozenset(words | set(_MARKERS))


_KNOWN = _known_words()


def is_known_word(word: str) -> bool:
    """Whether a folded word is one the lexicons know, in any language."""
    return word in _KNOWN


def rules_cover(text: str) -> bool:
    """Whether the offline rules can read `text`: Arabic, Devanagari, Bengali, Cyrillic or Thai
    script, or Latin script made mostly of words the lexicons know. "Tack så mycket!" or "감사합니다"
    is not covered: with a model configured, such turns go to the model."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    other = sum(
        1
        for c in letters
        if not (c < "\u0250" or "\u1e00" <= c <= "\u1eff")
        and not any(low <= c <= high for low, high, _ in _LETTER_SCRIPTS)
    )
    if other / len(letters) >= 0.5:
        return False
    if _script_language(text):
        return True
    words = analyse(text).words
    return sum(1 for w in words if w in _KNOWN) * 2 >= len(words)


# --------------------------------------------------------------------------------------------------
# Phrase matching over tokens (the sentinel and the extractors share it)
# --------------------------------------------------------------------------------------------------


def _is_arabic(word: str) -> bool:
    return bool(word) and "\u0600" <= word[0] <= "\u06ff"


@lru_cache(maxsize=4096)
def _has_arabic(words: tuple[str, ...]) -> bool:
    return any(_is_arabic(w) for w in words)


@lru_cache(maxsize=8192)
def word_forms(word: str) -> tuple[str, ...]:
    """`word` plus, for Arabic, the word without its clitic prefixes (و, ال, بال, ...)."""
    if not _is_arabic(word):
        return (word,)
    forms = [word]
    for prefix in lexicon.ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            forms.append(word[len(prefix) :])
    return tuple(dict.fromkeys(forms))


@dataclass(frozen=True, slots=True)
class _Slot:
    exact: frozenset[str]
    prefixes: tuple[str, ...]

    def matches(self, word: str) -> bool:
        for form in word_forms(word):
            if form in self.exact or any(form.startswith(p) for p in self.prefixes):
                return True
        return False


# The lexicons' phrases share their word slots ("my", "a person/human"): about 14,000 slots, 5,000
# of them different. One object for each, and one string for each word, kept by every process.
_SLOTS: dict[tuple[frozenset[str], tuple[str, ...]], _Slot] = {}


@dataclass(frozen=True, slots=True)
class Phrase:
    """One compiled alternative of a lexicon entry: ``"cancel* my subscription/account"``."""

    source: str
    slots: tuple[_Slot, ...]
    weight: float = 1.0
    tag: str = ""

    @classmethod
    def parse(cls, source: str, *, weight: float = 1.0, tag: str = "") -> Phrase:
        slots: list[_Slot] = []
        for part in source.split():
            choices = [lexicon.SHORTHAND.get(c, c) for c in (fold(c) for c in part.split("/") if c)]
            exact = frozenset(sys.intern(c) for c in choices if not c.endswith("*"))
            prefixes = tuple(sys.intern(c[:-1]) for c in choices if c.endswith("*"))
            slots.append(_SLOTS.setdefault((exact, prefixes), _Slot(exact, prefixes)))
        return cls(source, tuple(slots), weight, tag)


@dataclass(frozen=True, slots=True)
class Match:
    """Where a phrase matched: tokens `first`..`last` (inclusive)."""

    phrase: Phrase
    first: int
    last: int


class PhraseSet:
    """Many phrases, matched against a message's tokens; `gap` extra tokens may sit between words.

    Phrases are indexed by their first word (exact words in a dict, stems by prefix length), and
    results are memoised per message, because several rules ask about the same message.
    """

    _MEMO_SIZE = 4096

    def __init__(self, phrases: list[Phrase]) -> None:
        self.phrases = phrases
        self._by_first: dict[str, list[Phrase]] = {}
        self._by_prefix: dict[str, list[Phrase]] = {}
        for phrase in phrases:
            first = phrase.slots[0]
            for word in first.exact:
                self._by_first.setdefault(word, []).append(phrase)
            for prefix in first.prefixes:
                self._by_prefix.setdefault(prefix, []).append(phrase)
        self._prefix_lengths = sorted({len(p) for p in self._by_prefix})
        self._memo: dict[tuple[tuple[str, ...], int], tuple[Match, ...]] = {}

    @classmethod
    def of(cls, entries: Iterable[str], *, tag: str = "") -> PhraseSet:
        """Compile entries; ``|`` separates alternatives, ``/`` the choices for one word."""
        return cls.weighted(((e, 1.0) for e in entries), tag=tag)

    @classmethod
    def weighted(cls, entries: Iterable[tuple[str, float]], *, tag: str = "") -> PhraseSet:
        phrases = [
            Phrase.parse(alternative, weight=weight, tag=tag)
            for entry, weight in entries
            for alternative in entry.split("|")
            if alternative.strip()
        ]
        return cls(phrases)

    def __contains__(self, word: str) -> bool:
        """Whether `word` alone is one of the single-word phrases."""
        return any(len(m.phrase.slots) == 1 for m in self.find((word,)))

    def _starting_with(self, word: str) -> list[Phrase]:
        forms = word_forms(word) if _is_arabic(word) else (word,)
        candidates: list[Phrase] = []
        for form in forms:
            candidates.extend(self._by_first.get(form, ()))
            for length in self._prefix_lengths:
                if length > len(form):
                    break
                candidates.extend(self._by_prefix.get(form[:length], ()))
        return candidates

    def find(self, words: Sequence[str], *, gap: int = 0) -> tuple[Match, ...]:
        """Every match, at most one per phrase per start, left to right."""
        key = (tuple(words), gap)
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        found: list[Match] = []
        simple = not self._prefix_lengths and not _has_arabic(key[0])
        for i, word in enumerate(words):
            if simple:
                candidates = self._by_first.get(word)
                if not candidates:
                    continue
            else:
                candidates = self._starting_with(word)
            for phrase in dict.fromkeys(candidates) if len(candidates) > 1 else candidates:
                last = _match_rest(phrase, words, i, gap)
                if last is not None:
                    found.append(Match(phrase, i, last))
        result = tuple(found)
        if len(self._memo) >= self._MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = result
        return result


def _match_rest(phrase: Phrase, words: Sequence[str], start: int, gap: int) -> int | None:
    position = start
    for slot in phrase.slots[1:]:
        for step in range(1, gap + 2):
            j = position + step
            if j >= len(words):
                return None
            if slot.matches(words[j]):
                position = j
                break
        else:
            return None
    return position


# Words that never name what a question is about: function words, question words, numbers.
# "a question about the prices" is about prices: the word for a question names no topic, nor does
# a "but" ("aber ich habe eine Frage zu den Preisen").
_NO_TOPIC = (
    lexicon.FUNCTION_WORDS
    | lexicon.QUESTION_WORDS
    | lexicon.NUMBER_WORDS
    | lexicon.LIGHT_WORDS
    | lexicon.ASK_NOUNS
    | lexicon.CLAUSE_CONJUNCTIONS
    | lexicon.CONDITIONAL_WORDS
    | lexicon.CHATTER_WORDS
)


def content_words(text: str) -> tuple[str, ...]:
    """The words of `text` that can name a topic: folded, Arabic clitics removed, with no function
    words ("what time do you open?" -> ("time", "open")), digits or single letters."""
    out: list[str] = []
    for word in analyse(text).words:
        forms = word_forms(word)
        if any(form in _NO_TOPIC for form in forms):
            continue
        key = min(forms, key=len)
        if len(key) >= 2 and not key.isdigit() and key not in out:
            out.append(key)
    return tuple(out)
