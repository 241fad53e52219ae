"""Frustration, offline: a noisy-or of weighted cues (words and phrases per language, threats to
cancel or complain, "third time", waiting complaints, angry emoji, sarcasm next to an annoyed emoji or
a complaint), lifted by intensity (capitals about a problem, "!!!", "???", intensifiers) only when a
cue is present and the message is not plainly positive ("AMAZING!!! love it")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from agents import lexicon
from agents.language import Analysis, PhraseSet, analyse
from agents.sentinel.signals import Signal, SignalKind

__all__ = ["detect_frustration"]

_SARCASM = PhraseSet.of(lexicon.SARCASM_MARKERS)
_FRUSTRATION = PhraseSet(
    [
        p
        for lang, entries in lexicon.FRUSTRATION.items()
        for p in PhraseSet.weighted(entries, tag=lang).phrases
    ]
)
# Which lexicon entry each phrase comes from: the spellings of one entry count once.
_ENTRY_OF: dict[tuple[str | None, str, float], tuple[str, int]] = {
    (lang, f"lexicon:{p.source}", p.weight): (lang, i)
    for lang, entries in lexicon.FRUSTRATION.items()
    for i, entry in enumerate(entries)
    for p in PhraseSet.weighted([entry], tag=lang).phrases
}
_NEGATORS = lexicon.NEGATORS
_DATIVE = frozenset({"mi", "ci", "ti", "vi", "gli", "le", "me", "te", "nos", "os", "les"})
# Pronouns and particles between "enough" and what is enough ("es reicht mir ja der Tarif").
_ENOUGH_FOR = _DATIVE | {"mir", "uns", "dir", "euch", "ja", "auch", "doch"}
_HEDGES = PhraseSet.of(lexicon.HEDGES)
_CALM = PhraseSet.of(lexicon.CALM_PHRASES)
_SELF_DEPRECATING = PhraseSet.of(lexicon.SELF_DEPRECATING)
# How much of its weight a complaint keeps after a hedge ("a bit of a nightmare").
HEDGED = 0.6


def _something_after(a: Analysis, last: int) -> bool:
    """Whether a noun phrase follows the word at ``last`` in its clause, pronouns and particles
    aside ("es reicht mir der Basic-Tarif", "basta el plan básico")."""
    words, tokens = a.words, a.tokens
    i = last + 1
    while i < len(words) and tokens[i].clause == tokens[last].clause and words[i] in _ENOUGH_FOR:
        i += 1
    return (
        i < len(words)
        and tokens[i].clause == tokens[last].clause
        and words[i] in lexicon.ARTICLES | lexicon.DETERMINERS
    )


def _lone_praise_after_a_complaint(
    a: Analysis, cues: list[tuple[float, int, int, str, str | None]]
) -> int | None:
    """A word of praise that is a sentence of its own, after a complaint or a problem ("of course
    it doesn't know. brilliant.", "resposta automática. ótimo."): the index of the word, or None.
    Praise before the problem ("Brilliant, thanks! one more thing: the export still fails") is
    none."""
    words, tokens = a.words, a.tokens
    for i, word in enumerate(words):
        if word not in lexicon.POSITIVE_WORDS or word in lexicon.THANKS_WORDS:
            continue
        alone = (i == 0 or tokens[i - 1].clause != tokens[i].clause) and (
            i + 1 == len(words) or tokens[i + 1].clause != tokens[i].clause
        )
        if not alone or i == 0:
            continue
        # A bare "no" is no problem ("no need for a call. perfect."); "won't", "didn't" are.
        before = [w for w in words[:i] if w in lexicon.PROBLEM_WORDS and w not in lexicon.BARE_NO]
        if before or any(c[2] < i for c in cues):
            return i
    return None


def _threat_to_leave(a: Analysis, text: str) -> _Cue | None:
    """Cancelling or going to the competition, said in any form the phrase lists do not hold
    ("si para el viernes sigue igual, cancelo la suscripción", "starting to look at alternatives"):
    0.45 as the listed threats, 0.6 after a condition (an ultimatum). Not in a question ("can I
    cancel anytime?", "how do I cancel"), not in the past ("I cancelled it by mistake") and not of
    an order or a booking ("cancel my order")."""
    words = a.words
    if not words or "?" in text or "؟" in text or words[0] in lexicon.QUESTION_WORDS:
        return None
    for i, word in enumerate(words):
        if not word.startswith(lexicon.LEAVE_STEMS) or word.endswith(lexicon.LEAVE_PAST_ENDINGS):
            continue
        if set(words[i + 1 : i + 4]) & lexicon.LEAVE_NOT_OBJECTS:
            continue  # "cancel my order", "cancela o pedido"
        clause = a.tokens[i].clause
        if any(a.tokens[j].clause == clause for j in range(i) if words[j] in lexicon.QUESTION_WORDS):
            continue  # "so how would I cancel then"
        conditional = bool(set(words[:i]) & lexicon.CONDITIONAL_WORDS)
        rule = "ultimatum to leave" if conditional else "threat to leave"
        return (0.6 if conditional else 0.45, i, i, rule, None)
    return None


def _all_praise(clause: list[str]) -> bool:
    """A clause made of a word of praise and what may go with it ("wow, great", "absolutely
    brilliant"), four words at most, thanks not counted as praise."""
    if len(clause) > 4 or not any(
        w in lexicon.POSITIVE_WORDS and w not in lexicon.THANKS_WORDS for w in clause
    ):
        return False
    return all(
        w in lexicon.POSITIVE_WORDS
        or w in lexicon.INTENSIFIERS
        or w in lexicon.CHATTER_WORDS
        or w in lexicon.BARE_FILLER
        or w in lexicon.FUNCTION_WORDS
        for w in clause
    )


_NOBODY = lexicon.NONE_WORDS | frozenset(
    {"nobody", "noone", "nadie", "ninguem", "personne", "niemand", "nessuno", "tidak", "belum", "koi"}
)
_BUT = frozenset({"but", "pero", "mas", "mais", "aber", "ma", "maar", "tapi", "lekin", "لكن"})
_MISSING = lexicon.ONLY_WORDS


def _praise_then_the_wait(a: Analysis) -> _Cue | None:
    """Praise that opens a message which then counts what the customer waited or could not do
    ("complimenti davvero, tre giorni senza poter inviare un messaggio", "mantap bgt ya, udh
    seminggu chat saya cuma dibaca doang", "Génial, encore une coupure"): sarcasm, 0.6. The praise
    is the whole first clause (with intensifiers and fillers); what follows names a span of time
    with something wrong ("only five days", "seminggu cuma dibaca") or a plain problem ("now it's
    blocked"), with no "but" and no good news, since sincere praise before a problem turns with
    one ("great app, but the export fails")."""
    words, tokens = a.words, a.tokens
    if len(words) < 3:
        return None
    # The opening runs over every clause of praise in a row ("brilliant. absolutely brilliant.").
    first: list[int] = []
    clauses: dict[int, list[int]] = {}
    for i, token in enumerate(tokens):
        clauses.setdefault(token.clause, []).append(i)
    for indexes in clauses.values():
        if indexes[0] != len(first) or not _all_praise([words[i] for i in indexes]):
            break
        first.extend(indexes)
    if not first:
        return None
    rest = words[len(first) :]
    if not rest or set(rest) & (_BUT | lexicon.POSITIVE_WORDS | lexicon.THANKS_WORDS):
        return None  # "great app, but ...", "brilliant, thanks! one more thing ...", "... works now"
    waited = any(
        w in lexicon.TIME_UNITS
        and (
            w.startswith("se")
            or (i > 0 and (rest[i - 1].isdigit() or rest[i - 1] in lexicon.NUMBER_WORDS))
            or bool(set(rest[max(0, i - 2) : i]) & lexicon.SPAN_WORDS)  # "all morning", "the whole day"
        )
        for i, w in enumerate(rest)
    )
    # A span of time with something wrong ("only 5 days", "a week, nothing", "seminggu cuma dibaca"),
    # or a plain problem ("perfect, now it crashes"); "see you in two days" is neither.
    # What follows "if" is a what-if, not a problem ("perfect, I'll call you if I ever get stuck").
    said = next((rest[:i] for i, w in enumerate(rest) if w in lexicon.CONDITIONAL_WORDS), rest)
    missing = any(w in lexicon.PROBLEM_WORDS or w in _MISSING for w in said)
    if not ((waited and missing) or set(said) & lexicon.STRONG_PROBLEM_WORDS):
        return None
    return (0.6, first[0], first[-1], "sarcasm:praise, then the wait", None)


_GREETING_WORDS = frozenset(
    alternative
    for phrases in lexicon.GREETINGS.values()
    for phrase in phrases
    for alternative in phrase.split("|")
    if alternative and " " not in alternative and "*" not in alternative and "/" not in alternative
)


_HAPPEN = frozenset(
    {"happen", "happens", "occur", "occurs", "pase", "aconteca", "arrive", "passiert", "succeda"}
)


def _asks_to_be_reminded(a: Analysis, at: int) -> bool:
    """ "sorry, how long was the trial again?": "again" closing a question that opens with a
    question word asks to be reminded of an answer, not for one that never came."""
    sentence = _sentence_numbers(a)
    own = [i for i in range(len(a.words)) if sentence[i] == sentence[at]]
    return (
        own[-1] == at and _in_a_question(a, at) and any(a.words[i] in lexicon.QUESTION_WORDS for i in own[:3])
    )


def _chasing(a: Analysis) -> _Cue | None:
    """Writing again about what was not settled ("just checking in again on the refund I asked
    about", "otra vez yo, lo de ayer quedó en nada"): a word for "again" with one for following up
    or for an earlier time, 0.6. Not with news that things are fine ("tried again yesterday and it
    works now"): thanks alone do not count as such news."""
    words = a.words
    # "hi again", "hola de nuevo": a greeting, not a follow-up; "so this doesn't happen again": a
    # wish for the future.
    again = [
        i
        for i, w in enumerate(words)
        if (w in lexicon.AGAIN_WORDS or (i > 0 and (words[i - 1], w) in lexicon.AGAIN_PAIRS))
        and not set(words[max(0, i - 3) : i]) & _GREETING_WORDS
        and not (i > 0 and words[i - 1] in _HAPPEN)
        and not _asks_to_be_reminded(a, i)
    ]
    if not again:
        return _sent_and_nothing(words)
    if not any(w in lexicon.CHASE_WORDS or w in lexicon.PAST_MARKERS for w in words):
        return None
    if any(w in lexicon.POSITIVE_WORDS and w not in lexicon.THANKS_WORDS for w in words):
        return None
    return (0.6, again[0], again[0], "chasing again", None)


def _sent_and_nothing(words: tuple[str, ...]) -> _Cue | None:
    """A follow-up with no word for "again" ("sent you 2 msgs yesterday, nothing", "escrevi na
    segunda e nada"): an earlier message (a word for sending or writing and a time in the past),
    then "nothing", not "nothing else" or "nothing more"; 0.6."""
    sent = next((i for i, w in enumerate(words) if w in lexicon.SENT_WORDS), None)
    if sent is None or not any(w in lexicon.PAST_MARKERS or w in lexicon.WEEKDAYS for w in words):
        return None
    for i in range(sent + 1, len(words)):
        following = words[i + 1] if i + 1 < len(words) else ""
        # "de nada" is "you're welcome".
        if words[i] in lexicon.NOTHING_WORDS and following not in _NOTHING_MORE and words[i - 1] != "de":
            return (0.6, sent, i, "chasing: sent and nothing since", None)
    return None


_NOTHING_MORE = frozenset({"else", "more", "new", "mas", "mais", "plus", "mehr", "altro", "meer"})


# --------------------------------------------------------------------------------------------------
# Frustration
# --------------------------------------------------------------------------------------------------


def _noisy_or(weights: Iterable[float]) -> float:
    remaining = 1.0
    for w in weights:
        remaining *= 1.0 - w
    return 1.0 - remaining


_CAPS_WORD = re.compile(r"\b[^\W\d_a-z]{2,}\b")


def _shouting(text: str) -> bool:
    """Mostly capitals, or a run of shouted words inside a calmer message ("STILL STUCK. what is
    going on"); needs 8 capital letters, so "OK" or "HR" is no shouting."""
    if sum(1 for c in text if c.isupper()) < 8:  # most messages: no shouting possible
        return False
    letters = [c for c in text if c.isalpha() and c.upper() != c.lower()]
    upper = sum(1 for c in letters if c.isupper())
    if len(letters) >= 8 and upper / len(letters) >= 0.7:
        return True
    run = longest = 0
    for word in text.split():
        core = "".join(c for c in word if c.isalpha())
        if len(core) >= 2 and core.isupper():
            run += len(core)
            longest = max(longest, run)
        elif core:
            run = 0
    return longest >= 8


_Cue = tuple[float, int, int, str, str | None]  # weight, first, last, rule, language
_PLEASE = frozenset({"please", "pls", "plz", "just", "por", "favor", "bitte", "svp"})


def _shouted_demand(a: Analysis) -> int | None:
    """Where a clause opens with a demand to fix something ("FIX THIS NOW", "PLEASE SORT IT OUT"),
    not a question about fixing ("CAN YOU HELP ME FIX THE LOGO", "HOW DO I SORT MY CONTACTS")."""
    for i, w in enumerate(a.words):
        if w not in lexicon.FIX_WORDS:
            continue
        start = i
        while (
            start > 0 and a.words[start - 1] in _PLEASE and a.tokens[start - 1].clause == a.tokens[i].clause
        ):
            start -= 1
        if start == 0 or a.tokens[start - 1].clause != a.tokens[i].clause:
            return i
    return None


_SHOUTED_WHY = re.compile(
    r"\b(?:WHY|POR\s?QU[EÉ]|PORQU[EÉ]|POURQUOI|WARUM|PERCH[EÉ]|WAAROM|KENAPA|KYUN|NEDEN)\b"
)
_DELIBERATING = frozenset({"should", "would", "shall", "deberia", "deveria", "sollte", "sollten"})
_WHY = frozenset({"why", "porque", "pourquoi", "warum", "perche", "waarom", "kenapa", "kyun", "neden"})


def _shouted_why(a: Analysis, text: str) -> int | None:
    """Where a shouted "WHY" asks about something ("WHY ARE MY CLIENTS GETTING THE SAME REMINDER 3
    TIMES"): a loud why-question is a complaint even with no problem word in it."""
    if not _SHOUTED_WHY.search(text):
        return None
    for i, w in enumerate(a.words):
        if w in _WHY or (w == "por" and a.words[i + 1 : i + 2] == ("que",)):
            # "WHY SHOULD I PICK THE PRO PLAN": weighing a choice, no complaint.
            return None if set(a.words[i + 1 : i + 3]) & _DELIBERATING else i
    return None


_I_AM = frozenset({"im", "am"})
_SKILLS = frozenset({"tech", "technology", "computers", "phones", "english", "spelling", "apps"})
_BEFALLEN = frozenset({"being", "getting", "having"})  # "furious at being ignored" is a complaint


def _own_skill(words: tuple[str, ...], at: int) -> bool:
    """ "sorry, I'm rubbish at typing", "I am useless at computers": the customer judging their own
    skill, not the service. The word must follow "I'm"/"I am" (an intensifier may sit between) and
    be followed by "at" and a skill: a verb in -ing or a word for technology."""
    before = [w for w in words[max(0, at - 3) : at] if w not in lexicon.INTENSIFIERS]
    if not before or before[-1] not in _I_AM or words[at + 1 : at + 2] != ("at",):
        return False
    skill = words[at + 2] if at + 2 < len(words) else ""
    return skill in _SKILLS or (skill.endswith("ing") and len(skill) > 4 and skill not in _BEFALLEN)


# French "inutile de" + a verb is "no need to" ("Inutile de me faire rappeler"), not "useless".
_NO_NEED = frozenset({"inutile"})
# "I am" and "is" before a feeling: "não tô bravo", "no estoy enojado", "I'm not angry".
_BEING = lexicon.SELF_WORDS | frozenset({"to", "tou", "estou", "ta", "esta", "is", "are", "was", "im"})


def _feeling_denied(a: Analysis, first: int) -> bool:
    """ "não tô bravo não, só confuso", "no estoy enojado": the customer says they are not upset,
    a negator right before "I am" and the feeling, in one clause."""
    words, tokens = a.words, a.tokens
    for being in (first, first - 1):
        if (
            being >= 1
            and words[being] in _BEING
            and words[being - 1] in _NEGATORS
            and tokens[being - 1].clause == tokens[first].clause
        ):
            return True
    return False


def _said_of_themselves(words: tuple[str, ...], at: int) -> bool:
    """ "I'm such an idiot, I forgot my password", "soy una tonta": an insult the customer says of
    themselves, right after "I'm" (an article or an intensifier may sit between)."""
    if words[at] not in lexicon.SELF_INSULTS:
        return False
    i = at - 1
    while i >= 0 and at - i <= 3 and (words[i] in lexicon.SELF_FILLERS or words[i] in lexicon.INTENSIFIERS):
        i -= 1
    return i >= 0 and words[i] in lexicon.SELF_WORDS


_ABOUT_US = frozenset({"you", "your", "u", "ur", "this", "it", "yours"})
_OTHERS = frozenset(
    {"they", "companies", "people", "apps", "others", "sites", "websites", "vendors", "businesses"}
)
_THEIR_PEOPLE = frozenset({"them", "their"})
# Verbs between a subject and how it feels: "my customers get VERY angry".
_LINKING = frozenset(
    {
        "get",
        "gets",
        "got",
        "getting",
        "are",
        "is",
        "were",
        "was",
        "become",
        "becomes",
        "feel",
        "feels",
        "all",
        "both",
    }
)


def _in_a_question(a: Analysis, index: int) -> bool:
    """Whether the clause of word `index` ends with a question mark."""
    clause = a.tokens[index].clause
    last = max(i for i, t in enumerate(a.tokens) if t.clause == clause)
    end = a.tokens[last + 1].start if last + 1 < len(a.tokens) else len(a.raw)
    return any(mark in a.raw[a.tokens[last].end : end] for mark in "?؟")


_OTHER_VENDORS = PhraseSet.of(lexicon.OTHER_VENDORS)
_SENTENCE_END = re.compile(r"[.!?…\n]+")


def _sentence_numbers(a: Analysis) -> tuple[int, ...]:
    """The number of the sentence each word of `a` stands in (0 for the first); worked out once
    per message, however many cues ask."""
    return _sentence_numbers_of(a.raw)


@lru_cache(maxsize=2048)
def _sentence_numbers_of(raw: str) -> tuple[int, ...]:
    ends = [m.start() for m in _SENTENCE_END.finditer(raw)]
    return tuple(sum(1 for e in ends if e < token.start) for token in analyse(raw).tokens)


# What a feeling is about: "frustrated with", "harto de", "enttäuscht von", "stufo di".
_FEELING_ABOUT = (
    lexicon.WITH_WORDS | lexicon.OF_WORDS | {"by", "about", "at", "of", "von", "van", "over", "sur"}
)


def _about_another_vendor(a: Analysis, cues: list[_Cue]) -> list[_Cue]:
    """The cues that follow a mention of another business in their sentence ("our old provider
    never answered the phone, total nightmare", "mijn vorige leverancier reageerde nooit, echt
    waardeloos. hoe lang is de proefperiode?"), unless the sentence turns to us on the way; and a
    feeling said of that business right before it ("we were so frustrated with our old provider")."""
    vendors = _OTHER_VENDORS.find(a.words)
    if not vendors:
        return []
    sentence = _sentence_numbers(a)
    about = []
    for cue in cues:
        for vendor in vendors:
            if vendor.last < cue[1] and sentence[vendor.first] == sentence[cue[1]]:
                between = a.words[vendor.last + 1 : cue[1]]
                if not any(w in lexicon.ABOUT_US for w in between):
                    about.append(cue)
                    break
            # "frustrated with our old provider", "harto de mi proveedor anterior": a preposition
            # right after the feeling, then the business, in one clause.
            between = a.words[cue[2] + 1 : vendor.first]
            if (
                cue[2] + 1 < vendor.first <= cue[2] + 3
                and between[0] in _FEELING_ABOUT
                and a.tokens[cue[2]].clause == a.tokens[vendor.first].clause
                and not any(w in lexicon.ABOUT_US for w in between)
            ):
                about.append(cue)
                break
    return about


def _about_their_people(a: Analysis, at: int) -> bool:
    """ "my customers hate bots", "my customers get VERY angry when nobody replies": the word's
    subject, in its clause, is the people the customer serves, and its object is not us ("my
    customers hate your app" is; "wir verlieren Kunden. unfassbar" is two clauses)."""
    words = a.words
    # The subject stands up to four words before, past verbs and adverbs of other languages too
    # ("onze klanten worden soms echt boos").
    before = [
        i
        for i in range(max(0, at - 4), at)
        if words[i] not in lexicon.INTENSIFIERS | _LINKING and a.tokens[i].clause == a.tokens[at].clause
    ]
    following = words[at + 1 : at + 3]
    # "my customers hate your app", "my team is angry with you": about us.
    if not before or (following and following[0] in _ABOUT_US):
        return False
    if (
        len(following) == 2
        and following[0] in lexicon.WITH_WORDS | lexicon.ABOUT_WORDS | lexicon.AT_WORDS
        and following[1] in _ABOUT_US | lexicon.ABOUT_US
    ):
        return False
    people = lexicon.PEOPLE_SERVED | lexicon.OWN_STAFF | lexicon.ABOUT_US | _ABOUT_US
    subject = next((i for i in reversed(before) if words[i] in people), before[-1])
    # "my sales agents are angry with our current tool": their own staff, named as theirs.
    own_staff = words[subject] in lexicon.OWN_STAFF and bool(
        set(words[max(0, subject - 2) : subject]) & lexicon.POSSESSIVES - _ABOUT_US
    )
    return words[subject] in lexicon.PEOPLE_SERVED or own_staff


def _a_kind_of_thing(words: tuple[str, ...], at: int) -> bool:
    """Whether the object from `at` on is a kind of thing in the plural ("phone calls", "las
    llamadas", "forms"): what the customer dislikes in general, not us, the bot or waiting."""
    rest = [w for w in words[at : at + 4] if w not in lexicon.ARTICLES]
    # "hate when they do that", "hate it when companies ask for a card": what others do.
    if rest[:1] == ["it"]:
        rest = rest[1:]
    if len(rest) >= 2 and rest[0] == "when" and rest[1] in _OTHERS:
        return True
    if not rest or rest[0] in _ABOUT_US | lexicon.ABOUT_US or rest[0] in lexicon.DISLIKED_OF_OURS:
        return False
    nouns = rest[:2]
    return any(len(w) > 3 and w.endswith("s") and w not in lexicon.DISLIKED_OF_OURS for w in nouns)


_WHEN = frozenset({"when", "quando", "cuando", "quand", "wenn", "wanneer", "ketika", "kalau", "jab", "kiedy"})


def _reported_by_their_people(a: Analysis, at: int) -> bool:
    """ "my customers keep complaining that nobody answers on whatsapp after 6pm": what the
    customer's own customers say, or what happens to them, earlier in the sentence, with nothing of
    ours between."""
    words = a.words
    sentence = _sentence_numbers(a)
    for i in range(at - 1, -1, -1):
        if sentence[i] != sentence[at] or words[i] in lexicon.ABOUT_US:
            return False
        # "meus clientes ficam doidos quando ninguém responde": what happens to them, when.
        if words[i] in _WHEN and any(words[j] in lexicon.PEOPLE_SERVED for j in range(max(0, i - 4), i)):
            return True
        if words[i].startswith(lexicon.COMPLAINT_STEMS) and any(
            words[j] in lexicon.PEOPLE_SERVED for j in range(max(0, i - 3), i)
        ):
            return True
    return False


def _praise_of_a_complaint(a: Analysis, cues: list[_Cue]) -> _Cue | None:
    """ "really love paying for this", "loving being ignored": a verb of praise just before a
    complaint's words is sarcasm, when something is wrong beside it (a word for a problem, "again",
    an annoyed emoji or another complaint); "I love paying for this, worth every penny" is not."""
    words = a.words
    for cue in cues:
        before = [i for i in range(max(0, cue[1] - 3), cue[1]) if words[i] not in lexicon.INTENSIFIERS]
        praise = next((i for i in reversed(before) if words[i] in lexicon.PRAISE_VERBS), None)
        if praise is None or any(words[i] not in lexicon.INTENSIFIERS for i in range(praise + 1, cue[1])):
            continue
        others = [c for c in cues if c is not cue]
        wrong = any(w in lexicon.PROBLEM_WORDS for w in words) or others
        if wrong or any(c in lexicon.ANNOYED_EMOJI for c in a.raw):
            return (0.6, praise, cue[2], "sarcasm: praise of a complaint", None)
    return None


_SOMEONE_ELSES = lexicon.ARTICLES | lexicon.DETERMINERS | lexicon.POSSESSIVES
_TIMES = frozenset({"times", "volte", "veces", "fois", "vezes", "mal", "keer", "kez", "razy", "kali", "baar"})
# Verbs of reaching someone: what fills their free word is whom ("called the courier 3 times").
_CONTACTED = frozenset(
    {
        "called",
        "rang",
        "phoned",
        "contacted",
        "emailed",
        "pinged",
        "messaged",
        "texted",
        "chiamato",
        "llame",
        "llamamos",
        "liguei",
        "ligamos",
        "appele",
        "angerufen",
        "gebeld",
    }
)


def _someone_else_in_the_slot(words: tuple[str, ...], first: int, last: int, source: str) -> bool:
    """ "I called the courier 3 times", "ho chiamato il corriere 3 volte": a count of contacts
    ("called * times") whose free word is someone named by an article or a possessive is about
    them, not us ("called you 3 times", "escribí dos veces" are about us)."""
    if "*" not in source or words[first] not in _CONTACTED or words[last] not in _TIMES:
        return False
    inside = set(words[first + 1 : last])
    return bool(inside & _SOMEONE_ELSES) and not inside & (_ABOUT_US | lexicon.ABOUT_US)


def _with_article(words: tuple[str, ...], longer: _Cue, shorter: _Cue) -> bool:
    """Whether cue `longer` is cue `shorter` with articles around it."""
    first, last = longer[1], longer[2]
    if not (first <= shorter[1] and shorter[2] <= last) or last - first <= shorter[2] - shorter[1]:
        return False
    extra = [*words[first : shorter[1]], *words[shorter[2] + 1 : last + 1]]
    return all(w in lexicon.ARTICLES for w in extra)


_REPEAT_WORDS = (
    lexicon.AGAIN_WORDS
    | lexicon.TIME_UNITS
    | {"time", "times", "vez", "veces", "vezes", "fois", "mal", "volta", "volte", "keer", "kali", "baar"}
)


def _own_slip_again(a: Analysis, first: int, last: int) -> bool:
    """Whether the cue at ``first..last`` counts how often the customer slipped themselves: a word
    of repetition after one of their own slips in the sentence ("lost my phone for the third time
    this year"), with nothing of ours in it ("your app deleted my chats again" is about us)."""
    words = a.words
    if not set(words[first : last + 1]) & _REPEAT_WORDS:
        return False
    numbers = _sentence_numbers(a)
    sentence = [i for i in range(len(words)) if numbers[i] == numbers[first]]
    before = [i for i in sentence if i < first]
    slipped = any(
        words[i] in lexicon.OWN_SLIPS
        or (words[i] in lexicon.LOST_WORDS and set(words[i + 1 : i + 4]) & lexicon.OWN_ITEMS)
        for i in before
    )
    return slipped and not any(
        words[i] in lexicon.YOUR_WORDS or words[i] in {"you", "u", "ur"} for i in sentence
    )


_YOU = frozenset(
    {"you", "u", "ur", "yours", "jullie", "vous", "ustedes", "voces", "ihr", "sie", "voi", "kalian"}
)


def _surroundings_before(a: Analysis, first: int) -> bool:
    """Whether the clause of the word at ``first`` is about the customer's surroundings: one of
    them before it in the clause (or the clause before, joined by a comma), nothing of ours."""
    words, tokens = a.words, a.tokens
    clause = tokens[first].clause
    span = [
        i for i in range(first) if clause - 1 <= tokens[i].clause <= clause and _one_clause_run(a, i, first)
    ]
    if not any(words[i] in lexicon.SURROUNDINGS for i in span):
        return False
    return not any(words[i] in lexicon.YOUR_WORDS or words[i] in _YOU for i in [*span, first])


def _one_clause_run(a: Analysis, i: int, j: int) -> bool:
    """No sentence end between words ``i`` and ``j``."""
    return not any(mark in a.raw[a.tokens[i].end : a.tokens[j].start] for mark in ".!?")


_HELPFUL_PRAISE = PhraseSet.of(lexicon.HELPFUL_PRAISE)


def praise_after_a_miss(text: str) -> Signal | None:
    """Praise of how helpful the bot is, said right after it could not answer ("davvero
    utilissimo questo assistente 👏", "wow, very helpful"): sarcasm, unless it asks on ("very
    helpful, and how do I add a colleague?"), says more than a short remark, or thanks beside it
    ("Perfect, that's really helpful")."""
    a = analyse(text)
    found = _HELPFUL_PRAISE.find(a.words)
    if not found or "?" in text or len(a.words) > 12:
        return None
    # "Perfect, that's really helpful", "thanks, very helpful": thanks or an ok beside it are sincere,
    # unless a slow clap or a word said three times marks it ("cool cool cool, super helpful,
    # thanks a lot bot 👏").
    praise = {i for m in found for i in range(m.first, m.last + 1)}
    words = a.words
    marked = "👏" in text or any(words[i] == words[i + 1] == words[i + 2] for i in range(len(words) - 2))
    if not marked and any(w in lexicon.ACK_WORDS for i, w in enumerate(words) if i not in praise):
        return None
    m = found[0]
    return Signal(
        kind=SignalKind.FRUSTRATION,
        score=0.65,
        evidence=a.span(m.first, m.last),
        rule="praise of help right after a miss",
        language=m.phrase.tag or None,
    )


_GIVE_UP = PhraseSet.of(lexicon.GIVE_UP)


def _opens_its_clause(a: Analysis, at: int) -> bool:
    """Whether only interjections, an ok or filler stand before word `at` in its clause."""
    clause = a.tokens[at].clause
    lead = [w for i, w in enumerate(a.words[:at]) if a.tokens[i].clause == clause]
    return all(w in lexicon.ACK_WORDS or w in lexicon.ACK_FILLER or w in lexicon.CHATTER_WORDS for w in lead)


def gives_up_after_a_miss(text: str) -> Signal | None:
    """The matter dropped right after the bot could not answer ("forget it, I'll just go with
    respond.io", "yaudah deh, ga jadi", "tamam boşverin", "sigh. never mind. I give up"), or an
    annoyed face for all answer ("nou, daar heb ik veel aan 🙄"): annoyance. Not with thanks beside
    it ("forget it, thanks anyway") and not when it asks on ("forget it, what about the price?")."""
    if "?" in text or "؟" in text:
        return None
    a = analyse(text)
    if any(w in lexicon.THANKS_WORDS for w in a.words) or len(a.words) > 20:
        return None
    # Said for itself, opening its clause ("ugh forget it", "ok, lascia perdere"), not inside
    # another thought ("how would I reset my password if I forget it").
    found = [m for m in _GIVE_UP.find(a.words) if _opens_its_clause(a, m.first)]
    if found:
        m = found[0]
        evidence, language = a.span(m.first, m.last), m.phrase.tag or None
    elif any(c in lexicon.ANNOYED_EMOJI for c in text):
        evidence, language = next(c for c in text if c in lexicon.ANNOYED_EMOJI), None
    else:
        return None
    return Signal(
        kind=SignalKind.FRUSTRATION,
        score=0.65,
        evidence=evidence,
        rule="gives up right after a miss",
        language=language,
    )


def detect_frustration(text: str) -> Signal | None:
    """Frustration with a score in 0..1 (the graph hands off at >= 0.6), or ``None``."""
    a = analyse(text)
    words = a.words
    cues: list[_Cue] = []
    seen: set[tuple[int, int, float, str | None]] = set()
    # Sentences where the customer's own people are the ones upset: what follows in that sentence
    # is about them too ("our customers get pretty angry when no one replies after hours").
    theirs: dict[int, int] = {}
    sentence = _sentence_numbers(a)
    for m in _FRUSTRATION.find(words, gap=2):
        # A negated single word is not a complaint ("not bad", "nicht schlecht").
        # The negator is in the same clause ("die staat er niet. waardeloos dit" is no "not useless").
        if (
            len(m.phrase.slots) == 1
            and m.first > 0
            and words[m.first - 1] in _NEGATORS
            and a.tokens[m.first - 1].clause == a.tokens[m.first].clause
        ):
            continue
        if len(m.phrase.slots) == 1 and (_own_skill(words, m.first) or _said_of_themselves(words, m.first)):
            continue
        if _feeling_denied(a, m.first):
            continue
        # Malay "tak payah" is "no need", not "lousy" negated or not ("tak" is a Malay "not").
        if len(m.phrase.slots) == 1 and m.first > 0 and words[m.first - 1] == "tak" and m.phrase.tag == "id":
            continue
        if words[m.first] in _NO_NEED and m.last + 1 < len(words) and words[m.last + 1] in {"de", "d"}:
            continue
        # "travelling all week with terrible signal": their surroundings, not us; so too when the
        # surroundings are what the clause is about ("the traffic was terrible", "het regent hier
        # al de hele week, niet normaal").
        if len(m.phrase.slots) == 1 and m.last + 1 < len(words) and words[m.last + 1] in lexicon.SURROUNDINGS:
            continue
        if _surroundings_before(a, m.first):
            continue
        # "il piano Business basta?": in a question, "enough" asks whether something suffices.
        if words[m.first] in lexicon.ENOUGH_WORDS and _in_a_question(a, m.first):
            continue
        # "mi basta sapere gli orari", "me basta con eso": enough for someone, not "enough!".
        if words[m.first] in lexicon.ENOUGH_WORDS and m.first > 0 and words[m.first - 1] in _DATIVE:
            continue
        # "es reicht mir der Basic-Tarif": enough of something named right after, not "enough!".
        if set(words[m.first : m.last + 1]) & lexicon.ENOUGH_WORDS and _something_after(a, m.last):
            continue
        # "my customers hate bots": the customer's own customers' feelings, not about us.
        if len(m.phrase.slots) == 1 and _about_their_people(a, m.first):
            theirs.setdefault(sentence[m.first], m.last)
            continue
        since = theirs.get(sentence[m.first])
        if (
            since is not None
            and since < m.first
            and not set(words[since : m.last + 3]) & (_ABOUT_US | lexicon.ABOUT_US)
        ):
            continue
        if _reported_by_their_people(a, m.first):
            continue
        # "I hate phone calls haha": a dislike of a kind of thing, not of us.
        if (
            len(m.phrase.slots) == 1
            and words[m.first] in lexicon.DISLIKE_VERBS
            and _a_kind_of_thing(words, m.last + 1)
        ):
            continue
        # "when nobody replies them on weekends", "nobody answers their questions": about the
        # customer's own customers ("so behandelt ihr eure Kunden" is about us: "eure").
        if set(words[m.last + 1 : m.last + 3]) & _THEIR_PEOPLE:
            continue
        # Cancelling an order or a booking is no leaving ("vorrei disdire la prenotazione").
        if any(w.startswith(lexicon.LEAVE_STEMS) for w in words[m.first : m.last + 1]) and (
            set(words[m.last + 1 : m.last + 4]) & lexicon.LEAVE_NOT_OBJECTS
        ):
            continue
        if _someone_else_in_the_slot(words, m.first, m.last, m.phrase.source):
            continue
        # Spellings of one phrase that fold to the same words ("gak ngerti", "ga ngerti") count once.
        key = (m.first, m.last, m.phrase.weight, m.phrase.tag)
        if key in seen:
            continue
        seen.add(key)
        cues.append((m.phrase.weight, m.first, m.last, f"lexicon:{m.phrase.source}", m.phrase.tag))
    # A hedged complaint counts for less: "a bit of a nightmare", "un peu compliqué".
    hedge_ends = {m.last for m in _HEDGES.find(words)}
    cues = [
        (w * HEDGED, f, last, rule, tag) if {f - 1, f - 2} & hedge_ends else (w, f, last, rule, tag)
        for w, f, last, rule, tag in cues
    ]
    # "this is gonna sound dumb but ...", "dumb question": the customer on their own question.
    modest = _SELF_DEPRECATING.find(words)
    cues = [c for c in cues if not any(m.first <= c[1] and c[2] <= m.last for m in modest)]
    # "forgot my password, for the third time this week 🙈": a repetition of their own slip.
    cues = [c for c in cues if not _own_slip_again(a, c[1], c[2])]
    # One phrase listed with and without its article counts once ("a nightmare" holds "nightmare").
    cues = [c for c in cues if not any(_with_article(words, o, c) for o in cues)]
    # "our old provider never answered, total nightmare": complaints about another business.
    vendor_cues = _about_another_vendor(a, cues)
    cues = [c for c in cues if c not in vendor_cues]
    # Spellings of one entry that overlap ("me estoy cansando" in "ya me estoy cansando",
    # "steeds hetzelfde" and "hetzelfde antwoord") count once: the longest stands.
    kept: list[_Cue] = []
    for cue in sorted(cues, key=lambda c: (c[1] - c[2], c[1])):
        entry = _ENTRY_OF.get((cue[4], cue[3], cue[0]))
        if entry is None or not any(
            cue[1] <= k[2] and k[1] <= cue[2] and _ENTRY_OF.get((k[4], k[3], k[0])) == entry for k in kept
        ):
            kept.append(cue)
    cues = sorted(kept, key=lambda c: c[1])
    praised = _praise_of_a_complaint(a, cues)
    if praised is not None:
        cues.append(praised)
    wait = _praise_then_the_wait(a)
    if wait is not None:
        cues.append(wait)
    # A follow-up or a threat that a listed phrase also holds ("de novo", "cancel my plan") counts
    # once, at the higher weight.
    for rule in (_chasing(a), _threat_to_leave(a, text)):
        if rule is not None and not any(c[1] <= rule[1] <= c[2] for c in cues if c[0] >= rule[0]):
            cues = [c for c in cues if not c[1] <= rule[1] <= c[2]]
            cues.append(rule)
    angry = [c for c in text if c in lexicon.ANGRY_EMOJI]
    annoyed = [c for c in text if c in lexicon.ANNOYED_EMOJI]
    if vendor_cues and not cues:
        # "mi proveedor anterior era un desastre, nunca contestaban 😤": the emoji goes with them.
        angry, annoyed = [], []
    # A bare "no" makes no problem for sarcasm ("fantastico, non serve nessun operatore 😂").
    problem = any(w in lexicon.PROBLEM_WORDS and w not in lexicon.BARE_NO for w in words)
    # Praise next to an annoyed emoji or a complaint is sarcasm ("wow. great. super helpful 🙄").
    sarcastic = list(_SARCASM.find(words, gap=1)) if (annoyed or angry or cues or problem) else []
    # Said of themselves it is no praise of us: "I'm good", "não tô bravo" (Portuguese "angry").
    sarcastic = [m for m in sarcastic if not (m.first and words[m.first - 1] in _BEING)]
    for m in sarcastic:
        cues.append((0.6, m.first, m.last, f"sarcasm:{m.phrase.source}", None))
    lone = _lone_praise_after_a_complaint(a, cues)
    if lone is not None and not any(m.first <= lone <= m.last for m in sarcastic):
        cues.append((0.6, lone, lone, "sarcasm:praise alone after a complaint", None))
    if annoyed and not sarcastic and any(w in lexicon.POSITIVE_WORDS for w in words):
        # "great, the bot doesn't understand me either 🙄": praise, an eye-roll and a problem.
        cues.append(
            (0.5 if problem else 0.4, 0, len(words) - 1, "sarcasm:praise with an annoyed emoji", None)
        )
    in_cue = {i for c in cues for i in range(c[1], c[2] + 1)}
    positive = (
        any(
            w in lexicon.POSITIVE_WORDS
            and i not in in_cue
            # "not fixed", "nobody has fixed it": good news negated is none.
            and not set(words[max(0, i - 2) : i]) & (_NEGATORS | lexicon.UNREALISED_WORDS | _NOBODY)
            for i, w in enumerate(words)
        )
        or any(c in lexicon.POSITIVE_EMOJI for c in text)
    )
    shouting = _shouting(text)
    weight = sum(0.5 if w in lexicon.WEAK_PROBLEM_WORDS else 1.0 for w in words if w in lexicon.PROBLEM_WORDS)
    fix = _shouted_demand(a) if shouting else None
    if fix is None and shouting:
        fix = _shouted_why(a, text)
    if shouting and (weight >= 1.0 or fix is not None) and not positive:
        # Capitals about a problem are a complaint ("WHY DOES THE APP KEEP LOGGING ME OUT"), and so
        # is a shouted demand to fix something ("FIX THIS NOW"); capitals about good news are joy
        # ("THIS IS GREAT"), a loud question is just loud.
        first = next((i for i, w in enumerate(words) if w in lexicon.PROBLEM_WORDS), fix)
        assert first is not None
        cues.append((0.62, first, first, "caps about a problem", None))
    weights = [c[0] for c in cues]
    rules = [c[3] for c in cues]
    if angry:
        weights.append(0.65 if len(angry) == 1 else 0.8)
        rules.append("angry emoji")
    if annoyed:
        weights.append(0.3)
        rules.append("annoyed emoji")
    intensity: list[float] = []
    if shouting:
        intensity.append(0.3)
        rules.append("caps")
    if re.search(r"[!?]{3,}|!!|\?\?|\?!|!\?", text):
        intensity.append(0.2 if re.search(r"[!?]{3,}", text) else 0.15)
        rules.append("punctuation")
    if weights and any(w in lexicon.INTENSIFIERS for w in words):
        intensity.append(0.1)
        rules.append("intensifier")
    if weights:
        score = _noisy_or([*weights, *intensity])
    elif intensity and not positive:
        # Shouting alone is a hint; shouting with "???" or "!!!" is anger ("WHERE IS MY ORDER???").
        shouting = "caps" in rules and "punctuation" in rules
        score = 0.6 if shouting else min(0.45, _noisy_or(intensity))
    else:
        return None
    if positive and not angry and max(weights, default=0.0) < 0.6:
        score = min(score, 0.4)
    # "it's fine, I'll wait", "not a big deal": one mild complaint said calmly.
    if not angry and len(weights) <= 1 and max(weights, default=0.0) <= 0.7 and _CALM.find(words):
        score = min(score, 0.4)
    if cues:
        first, last = min(c[1] for c in cues), max(c[2] for c in cues)
        evidence = a.span(first, last)
        language = cues[0][4]
    else:
        evidence = text.strip()
        language = None
    return Signal(
        kind=SignalKind.FRUSTRATION,
        score=round(min(score, 1.0), 3),
        evidence=evidence,
        rule=" + ".join(dict.fromkeys(rules)),
        language=language,
    )
