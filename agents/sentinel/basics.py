"""Conversation basics, offline: acknowledgements, greetings and small talk, pleasantries and questions,
in every supported language (the phrase lists are `agents/lexicons/*.yaml`). None of them ever counts
as an unanswered question."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from agents import lexicon
from agents.language import PhraseSet, analyse, vietnamese_spelling
from agents.sentinel.detectors import phrase_table
from agents.sentinel.frustration import detect_frustration

__all__ = [
    "announced_question",
    "is_acknowledgement",
    "is_announcement",
    "is_greeting",
    "is_pleasantry",
    "is_question",
    "social_prefix",
    "strip_social",
]


_GREETING = phrase_table(lexicon.GREETINGS, "greeting")
_SATISFIED = PhraseSet.of(lexicon.SATISFIED)
_SMALL_TALK = phrase_table(lexicon.SMALL_TALK, "small_talk")
_SOCIAL_VOCABULARY = frozenset(
    word
    for phrases in (_GREETING.phrases, _SMALL_TALK.phrases)
    for phrase in phrases
    for slot in phrase.slots
    for word in slot.exact
)


# --------------------------------------------------------------------------------------------------
# Acknowledgements
# --------------------------------------------------------------------------------------------------


def is_acknowledgement(text: str) -> bool:
    """A thank-you or an "ok" that needs no answer beyond "you're welcome" ("vale, gracias", "👍")."""
    if "?" in text or "؟" in text:
        return False
    words = analyse(text).words
    if not words:
        return any(c in lexicon.POSITIVE_EMOJI for c in text)
    if len(words) > 8:
        return False
    # "brilliant, that's what we need", "c'est bon ça marche 👌": satisfaction said in words.
    satisfied = {i for m in _SATISFIED.find(words) for i in range(m.first, m.last + 1)}
    # "brigadaaa", "aaah perfeito": a stretched word is the word.
    words = tuple(
        w if w in lexicon.ACK_WORDS or w in lexicon.ACK_FILLER else _ELONGATED.sub(r"\1", w) for w in words
    )
    core = [w for w in words if w in lexicon.ACK_WORDS]
    return (bool(core) or bool(satisfied)) and all(
        i in satisfied or w in lexicon.ACK_WORDS or w in lexicon.ACK_FILLER for i, w in enumerate(words)
    )


def accepts_offer(text: str) -> bool:
    """A yes to the bot's offer of a person ("yes please", "sim, por favor", "ja gerne", "haan ji",
    "sure, go ahead"): short, no question, every word a yes, a thank-you or filler, one a yes."""
    if "?" in text or "؟" in text:
        return False
    words = analyse(text).words
    if not words or len(words) > 6:
        return False
    allowed = lexicon.ACCEPT_WORDS | lexicon.ACK_WORDS | lexicon.ACK_FILLER
    return any(w in lexicon.ACCEPT_WORDS for w in words) and all(w in allowed for w in words)


def declines_offer(text: str) -> bool:
    """A no to the bot's offer of a person that asks nothing more ("ok no problem, I'll check with
    our IT team. thanks", "nope, all good", "I guess not yet. thanks for letting me know"): no
    question, and thanks in it, or a short answer that opens with a no."""
    if "?" in text or "؟" in text:
        return False
    words = analyse(text).words
    if not words or len(words) > 20:
        return False
    if any(w in lexicon.THANKS_WORDS for w in words):
        return True
    return len(words) <= 4 and words[0] in lexicon.BARE_NO | {"nope", "nah"}


# --------------------------------------------------------------------------------------------------
# Greetings and small talk
# --------------------------------------------------------------------------------------------------

_GREETING_EMOJI = frozenset("👋🙋🤝")
_ELONGATED = re.compile(r"(\w)\1+")


def _squeezed(words: Sequence[str]) -> tuple[str, ...]:
    """ "hellooo" -> "helo", "heyyy" -> "hey", "holaa" -> "hola": stretched greetings, unless the
    word is already known as it is ("good", "ciao")."""
    return tuple(
        w if w in _SOCIAL_VOCABULARY or w in lexicon.GREETING_FILLER else _ELONGATED.sub(r"\1", w)
        for w in words
    )


@lru_cache(maxsize=2048)
def social_prefix(text: str) -> int:
    """How many leading words of `text` are a greeting or small talk ("Hi, hope you're well",
    "hola buenas", "hello ji ad dekha"); 0 when the message does not open with one."""
    words = _squeezed(analyse(text).words)
    if not words:
        return 0
    covered: set[int] = set()
    for m in [*_GREETING.find(words), *_SMALL_TALK.find(words)]:
        covered.update(range(m.first, m.last + 1))
    count = 0
    while count < len(words) and (count in covered or words[count] in lexicon.GREETING_FILLER):
        count += 1
    return count if covered & set(range(count)) else 0


_RUNS_ON = lexicon.ABOUT_WORDS | lexicon.OF_WORDS | lexicon.SMALL_TALK_GOES_ON


def small_talk_runs_on(text: str) -> bool:
    """ "saw the ad about the shared inbox", "vi el anuncio de whatsapp": small talk that goes on
    past its phrase ("about ...", "de ..."), so what follows belongs to it, not an answer."""
    words = _squeezed(analyse(text).words)
    count = social_prefix(text)
    if not count or count >= len(words) or words[count] not in _RUNS_ON:
        return False
    return any(m.last == count - 1 for m in _SMALL_TALK.find(words))


def is_greeting(text: str) -> bool:
    """A message that is only a greeting or small talk: it gets the welcome, never a fallback."""
    words = analyse(text).words
    if not words:
        return any(c in _GREETING_EMOJI for c in text)
    return social_prefix(text) == len(words)


def strip_social(text: str) -> str:
    """The rest of `text` after an opening greeting: "HI THERE, WHAT ARE YOUR PRICES?" -> "WHAT ARE
    YOUR PRICES?"; the text itself when it opens with no greeting."""
    count = social_prefix(text)
    a = analyse(text)
    if not count or count >= len(a.words):
        return text if not count else ""
    return text[a.tokens[count].start :].strip()


def is_question(text: str) -> bool:
    """A question mark, or a question word opening a clause ("how do i export chats"), after at
    most two discourse words ("like can i connect it", "ok but does it work with shopify")."""
    if any(mark in text for mark in "?¿؟"):
        return True
    a = analyse(strip_social(text) or text)
    words = a.words
    starts = {0} | {i for i in range(1, len(a.tokens)) if a.tokens[i].clause != a.tokens[i - 1].clause}
    for start in starts:
        i = start
        while i < min(start + 2, len(words)) and words[i] in lexicon.QUESTION_LEADS:
            i += 1
        if (
            i < len(words)
            and words[i] in lexicon.QUESTION_WORDS
            and a.tokens[i].clause == a.tokens[start].clause
            and not vietnamese_spelling(a.raw[a.tokens[i].start : a.tokens[i].end])
        ):
            return True
    return False


# --------------------------------------------------------------------------------------------------
# A question announced before it is asked
# --------------------------------------------------------------------------------------------------

_MORE = lexicon.COUNT_MORE | lexicon.ANOTHER_WORDS
_TAKEN_BACK = lexicon.NEGATORS | lexicon.BARE_NO | lexicon.NONE_WORDS


def announced_question(text: str) -> int | None:
    """Where a customer announces a further question, the index of its noun in the analysed words:
    "one more question about my invoice", "quick question", "otra cosa", "noch eine Frage", "سؤال
    آخر". A question noun needs a word of number or of "more" within two words before it or right
    after it ("a question", "una pregunta más"); a word for a thing needs one of "more" ("one more
    thing", "another thing"). Taken back, it is none ("no more questions", "sin más preguntas")."""
    words = analyse(text).words
    for i, word in enumerate(words):
        if word in lexicon.ASK_NOUNS:
            before = lexicon.COUNT_ONE | _MORE
        elif word in lexicon.THING_NOUNS:
            before = _MORE
        else:
            continue
        near = words[max(0, i - 2) : i]
        if not (set(near) & before or (i + 1 < len(words) and words[i + 1] in _MORE)):
            continue
        if set(words[max(0, i - 3) : i]) & _TAKEN_BACK:
            continue
        if i and words[i - 1] in lexicon.POSSESSIVES:
            continue  # "aur unki queries handle karni hai": their questions, not one announced
        return i
    return None


def is_announcement(text: str) -> bool:
    """A further question announced and not yet asked ("thanks, one more question about my
    invoice", "I have a question", "can I ask you a quick question?"): the answer is "go ahead",
    neither a "you're welcome" nor an "I don't know". What follows the announcement is a few words
    of topic at most: no question of its own ("quick question, do you have an API") and no problem
    ("another thing: my export keeps failing")."""
    at = announced_question(text)
    if at is None:
        return False
    a = analyse(text)
    rest = a.words[at + 1 :]
    # A problem after it ("one more question: the export keeps failing") is the matter itself.
    if len(rest) > 8 or set(rest) & lexicon.STRONG_PROBLEM_WORDS:
        return False
    clause = a.tokens[at].clause
    for i in range(at + 1, len(a.words)):
        opens = a.tokens[i].clause != a.tokens[i - 1].clause or a.tokens[i].clause != clause
        if opens and a.words[i] in lexicon.QUESTION_WORDS:
            return False
    return True


# Contrast words that turn thanks into a lead-in ("thanks, but ..."); "just", "sirf" do not.
_BUT = lexicon.CLAUSE_CONJUNCTIONS - {"just", "sirf", "cuma", "bas", "instead"}


_GET_BACK = PhraseSet.of(lexicon.GET_BACK)
_UNDECIDED = PhraseSet.of(lexicon.UNDECIDED)


def undecided(text: str) -> bool:
    """ "not sure yet", "todavía no lo sé": the customer has not decided."""
    return bool(_UNDECIDED.find(analyse(text).words))


def will_get_back(text: str) -> bool:
    """ "ok, I'll talk to my partner and get back to you", "ok theek hai, main baat karke batata
    hoon", "Danke, ich melde mich": the customer will come back later, with no question open and no
    complaint."""
    if "?" in text or "؟" in text:
        return False
    a = analyse(text)
    later = _GET_BACK.find(a.words)
    undecided = _UNDECIDED.find(a.words)
    # "idk yet, just curious": not decided, so no answer yet; "not sure yet... mostly people dm me
    # asking for prices and open slots": the answer follows the hedge.
    if not later and (not undecided or len(a.words) - 1 - max(m.last for m in undecided) >= 6):
        return False
    later = (*later, *undecided)
    frustration = detect_frustration(text)
    if frustration is None or frustration.score < 0.3:
        return True
    # "on est encore en réflexion": the word that read as a complaint is part of the deferral.
    return any(frustration.evidence in a.span(m.first, m.last) for m in later)


def is_pleasantry(text: str) -> bool:
    """Thanks or praise with no question and no complaint ("Thanks, the person I spoke to solved
    it", "love the new update!"): it needs a "you're welcome", not a fallback."""
    if "?" in text or "؟" in text or is_acknowledgement(text):
        return is_acknowledgement(text)
    words = analyse(text).words
    if not words or len(words) > 25:
        return False
    frustration = detect_frustration(text)
    if frustration is not None and frustration.score >= 0.3:
        return False
    thanks = any(w in lexicon.ACK_WORDS and w in lexicon.POSITIVE_WORDS for w in words[:3])
    # "Thank you, but my question was about ...": thanks right before a "but" lead into the point;
    # "thanks, one more question ...": thanks that lead into the next thing.
    if thanks and (set(words[1:5]) & _BUT or announced_question(text) is not None):
        return False
    # A thumbs-up or a smile counts as a word of praise ("it worked in the end, all good now 👍").
    positive = sum(1 for w in words if w in lexicon.POSITIVE_WORDS) + any(
        c in lexicon.POSITIVE_EMOJI for c in text
    )
    # "no need to pass me on to anyone, that's everything. thanks a million": signed off with thanks.
    sentences = [x for x in re.split(r"[.!\n]+", text) if x.strip()]
    signed_off = len(sentences) >= 2 and is_acknowledgement(sentences[-1])
    return thanks or positive >= 2 or signed_off


_ANSWER_FAILED = PhraseSet.of(lexicon.ANSWER_FAILED)


def says_the_answer_failed(text: str) -> bool:
    """Whether the message says what the bot just answered did not help: done already, tried, still
    nothing came ("did that. twice. still no email", "ya lo hice y no me llega", "udah dicoba tp ga
    masuk"). Not with good news or thanks and no negation beside it ("tried it, works now, thanks")."""
    a = analyse(text)
    if not _ANSWER_FAILED.find(a.words):
        return False
    words = set(a.words)
    pleased = words & (lexicon.POSITIVE_WORDS | lexicon.THANKS_WORDS)
    return not pleased or bool(words & lexicon.NEGATORS)
