"""Text normalisation and offline language detection shared by the rule agents.

Everything here is deterministic and dependency-free (stdlib only):

- `fold` lowercases, strips Latin accents and Arabic diacritics, unifies apostrophes and a few
  letters (``ß`` -> ``ss``, Arabic alef/ya/ta-marbuta forms) so that "Dónde", "donde" and "DONDE"
  compare equal.
- `analyse` splits a message into `Token`s (folded text, offsets into the original for evidence,
  clause number) and is cached, because the sentinel and the extractors read the same message.
- `detect_language` scores marker words and characters per language and answers the default when
  the evidence is thin ("ok", "Hi", "Umbrella Corp").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from agents import lexicon

__all__ = ["SUPPORTED_LANGUAGES", "Analysis", "Token", "analyse", "detect_language", "fold"]

SUPPORTED_LANGUAGES = ("en", "es", "pt", "fr", "de", "it", "hi", "id", "ar", "nl")

# Letters plus the combining marks Devanagari and Arabic words are made of (\w alone splits them).
_WORD = re.compile(r"(?:[^\W_]|[\u0900-\u0963\u0966-\u097f\u0610-\u061a\u064b-\u065f\u0670])+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
# English contractions join (don't -> dont); French/Italian elisions split (j'aimerais -> j aimerais).
_CONTRACTION_TAILS = frozenset({"t", "m", "re", "s", "d", "ll", "ve"})
_SPECIAL = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ı": "i", "ـ": ""}
_ARABIC = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
_CLAUSE_PUNCT = frozenset(".,;:!?¿¡،؟؛\n()[]")
_LETTER_SCRIPTS = (("\u0600", "\u06ff", "ar"), ("\u0900", "\u097f", "hi"))


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
    if "\u0900" <= char <= "\u097f":  # Devanagari vowel signs are letters, keep them
        return char
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

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(t.text for t in self.tokens)

    def span(self, first: int, last: int) -> str:
        """Original text from token `first` to token `last` (inclusive), for evidence."""
        return self.raw[self.tokens[first].start : self.tokens[last].end]


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


def _tokenise(text: str, folded: str, work: str, index: tuple[int, ...]) -> Analysis:
    tokens: list[Token] = []
    clause = 0
    last_end = 0
    for match in _WORD.finditer(work):
        gap = work[last_end : match.start()]
        if tokens and (any(c in _CLAUSE_PUNCT for c in gap) or " - " in gap):
            clause += 1
        word = match.group(0)
        if tokens and word in lexicon.CLAUSE_CONJUNCTIONS:
            clause += 1
        start = index[match.start()] if match.start() < len(index) else len(text)
        end = index[match.end() - 1] + 1 if match.end() - 1 < len(index) else len(text)
        tokens.append(Token(word, start, end, clause))
        last_end = match.end()
    return Analysis(raw=text, folded=folded, tokens=tuple(tokens))


def _script_language(text: str) -> str | None:
    counts = dict.fromkeys(("ar", "hi", "latin"), 0)
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
    for lang in ("ar", "hi"):
        if counts[lang] / letters >= 0.5:
            return lang
    return None


def detect_language(text: str, *, default: str = "en") -> str:
    """ISO 639-1 code of `text` among en es pt fr de it hi id ar nl; `default` when unsure.

    Hindi written in Latin script (Hinglish) is ``"hi"``. Arabic and Devanagari are decided by
    script; Latin-script languages by weighted marker words and letters (``ñ``, ``ã``, ``ß``), and the
    winner must be clear (a minimum score and a margin over the runner-up).
    """
    scripted = _script_language(text)
    if scripted:
        return scripted
    scores = dict.fromkeys(SUPPORTED_LANGUAGES, 0.0)
    lowered = text.lower()
    for char, (lang, weight) in lexicon.LANGUAGE_CHARS.items():
        if char in lowered:
            scores[lang] += weight
    words = analyse(text).words
    for word in words:
        for lang, weight in lexicon.LANGUAGE_MARKERS.get(word, ()):
            scores[lang] += weight
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], SUPPORTED_LANGUAGES.index(kv[0])))
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= 1.0 and top - second >= 0.5:
        return best
    return default
