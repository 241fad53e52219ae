"""Offline sentinel rules: explicit requests for a human (frustration is `agents.sentinel.frustration`,
conversation basics `agents.sentinel.basics`, repeated questions `agents.sentinel.loops`).

Deterministic, explainable and fast (a message is tokenised once, see `agents.language.analyse`);
every detector returns a `Signal` naming the rule and the span that triggered it, or ``None``.

Explicit requests are *frames*, not sentences: a request verb and a human noun close together, in
any of the supported languages (the word lists live in `agents.lexicon`):

1. talk verb + human/someone/department noun   ("let me speak to an agent", "baat karni hai")
2. connect verb + human/someone/department     ("put me through to support", "حولني على خدمة العملاء")
3. contact/help verb + human/someone           ("can a salesperson call me?", "que me atienda alguien")
4. want verb + human noun                      ("quiero un humano", "agent chahiye")
5. asking whether a human exists               ("is there a human?", "tem algum atendente?")
6. asking to be called                         ("can you call me?", "me pueden llamar?")
7. a bare human noun with politeness around it ("real person pls", "Mitarbeiter bitte", "agent!!")

A noun is dropped when it is a false friend ("travel agent", "human resources", "agent seats",
"12 agents", "our agents", "I'm human too"); a frame is dropped when it is about third parties ("can
your bot transfer conversations to a human agent?"); a frame is *negated* when a negation cue
governs it in the same clause ("no need for an agent", "agent nahi chahiye"). Negated frames are
reported by `detect_negated_request` and never by `detect_explicit_request`. Long nouns tolerate one
typo ("represntative").

Frustration is a noisy-or of weighted cues (words and phrases per language, threats to cancel or
complain, "third time", angry emoji), lifted by intensity (CAPS, "!!!", "???", intensifiers) only
when a cue is present and the message is not plainly positive ("AMAZING!!! love it").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from agents import lexicon
from agents.language import (
    Analysis,
    Match,
    Phrase,
    PhraseSet,
    Token,
    analyse,
    detect_language,
    fold,
    is_known_word,
)
from agents.sentinel.signals import Signal, SignalKind

__all__ = ["detect_explicit_request", "detect_negated_request", "phrase_table"]


def phrase_table(table: Mapping[str, tuple[str, ...]], kind: str) -> PhraseSet:
    """One phrase set for all languages; each phrase is tagged ``kind:language``."""
    return PhraseSet(
        [p for lang, entries in table.items() for p in PhraseSet.of(entries, tag=f"{kind}:{lang}").phrases]
    )


_HUMAN = phrase_table(lexicon.HUMAN_NOUNS, "human")
_SOMEONE = phrase_table(lexicon.SOMEONE, "someone")
_RELATIVE_AFTER_COMMA = lexicon.RELATIVE_WORDS | lexicon.RELATIVE_AFTER_COMMA
# German and Dutch relative clauses put the verb at the end ("die me even kan bellen"), wherever
# that is in the clause.
_VERB_LAST = lexicon.RELATIVE_AFTER_COMMA | {"die", "dat"}
_DEPARTMENT = phrase_table(lexicon.DEPARTMENTS, "department")
_TALK = phrase_table(lexicon.TALK_VERBS, "talk")
_CALL_ME = PhraseSet.of(lexicon.CALL_ME)
_CONNECT = phrase_table(lexicon.CONNECT_VERBS, "connect")
_CONTACT = phrase_table(lexicon.CONTACT_VERBS, "contact")
_WANT = phrase_table(lexicon.WANT_VERBS, "want")
_HELP = phrase_table(lexicon.HELP_VERBS, "help")
_BOT = phrase_table(lexicon.BOT_WORDS, "bot")
_REAL = phrase_table(lexicon.REAL_PERSON, "real")
_REQUEST = phrase_table(lexicon.REQUEST_PHRASES, "request")
_BOT_QUESTION = phrase_table(lexicon.BOT_QUESTIONS, "bot question")
_WHO_HANDLES = phrase_table(lexicon.WHO_HANDLES, "who handles")
_CALLBACK = phrase_table(lexicon.CALLBACK, "callback")
_WITH_ME = PhraseSet.of(lexicon.WITH_ME)
_NAMED_PERSON = [re.compile(p, re.IGNORECASE) for p in lexicon.NAMED_PERSON_PRESENT]
_BOT_REJECTION = PhraseSet.of(lexicon.BOT_REJECTION)
# The customer's own people or another business ("our own staff", "our old provider").
_THEIR_SIDE = PhraseSet.of(lexicon.OTHER_VENDORS)
_EXIST_BEFORE = PhraseSet.of(lexicon.EXIST_BEFORE)
_EXIST_AFTER = PhraseSet.of(lexicon.EXIST_AFTER)
_NEG_BEFORE = PhraseSet.of(lexicon.NEGATION_BEFORE)
_NEG_AFTER = PhraseSet.of(lexicon.NEGATION_AFTER)
_SELF = PhraseSet.of(lexicon.SELF_REFERENCE)
# Long single-word human nouns, for typo tolerance ("representitive", "atendende").
_FUZZY_NOUNS = {
    word: phrase
    for phrase in _HUMAN.phrases
    if len(phrase.slots) == 1
    for word in sorted(phrase.slots[0].exact)
    if len(word) >= 7
}
# Long single-word request verbs, for typo tolerance ("conect", "tranfer", "spek").
_FUZZY_VERBS = {
    word: phrase
    for phrase in [*_TALK.phrases, *_CONNECT.phrases]
    if len(phrase.slots) == 1
    for word in sorted(phrase.slots[0].exact)
    if len(word) >= 5
}
# The function words of every language the rules know: never read as a request verb mistyped.
_OWN_WORDS = frozenset().union(*lexicon.LANGUAGE_WORDS.values())
_PER = frozenset({"por", "par", "per"})
_GERMAN_ARTICLES = frozenset({"der", "die", "das"})
_OWN = frozenset({"apne", "apna", "apni", "own"})
_I_SUBJECT = frozenset({"main", "mai", "mein", "hum", "ham", "i", "we"})
_MY = frozenset(
    {
        "my",
        "our",
        "mi",
        "mis",
        "nuestro",
        "nuestra",
        "meu",
        "minha",
        "nosso",
        "nossa",
        "mon",
        "ma",
        "notre",
        "mera",
        "meri",
    }
    | {"mein", "meine", "meinen", "unser", "unsere", "mio", "mia", "nostro", "nostra", "mijn", "onze"}
)
_IF = frozenset({"if", "se", "si", "wenn", "falls", "als", "jika", "kalau", "agar"})
_SOMEONE_WORDS = frozenset(
    {"someone", "somebody", "anyone", "anybody", "alguem", "alguien", "quelqu", "quelquun", "jemand"}
    | {"iemand", "qualcuno", "seseorang", "koi", "biri", "ktos"}
)
_LINKING_SUBJECTS = frozenset({"it", "this", "that", "which"})
_FOR_WORK = frozenset({"for", "para", "pra", "pour", "voor", "untuk", "buat", "icin"})
_GERMAN_MODALS = frozenset(
    {"kann", "konnen", "konnte", "konnten", "mochte", "mochten", "will", "wollen", "muss", "mussen", "soll"}
    | {"sollen", "wurde", "wurden", "darf", "durfen"}
)
_POLITE_PAST = frozenset({"was", "were", "had", "did"})
# The agent of a passive: "atendida por uma pessoa", "served by a person", "von einem Menschen".
_BY = frozenset({"by", "por", "par", "von", "door", "oleh", "dal", "dalla"})
# Words that do not count in the distance between a verb and its noun ("verbinden Sie mich bitte
# mit einem Ansprechpartner"): articles, politeness, pronouns.
_LIGHT = lexicon.ARTICLES | lexicon.BARE_FILLER | lexicon.FIRST_PERSON | lexicon.REQUEST_MOOD
# "I'll call you back", "we will call back": the customer calls, nobody is asked to.
_SELF_CALL = frozenset({"i", "ill", "will", "well", "we", "gonna", "shall", "vou", "voy", "vais", "werde"})
# Determiners before a one-word talk verb that make it a noun ("pass the chat to a human").
_NOUN_DETERMINERS = frozenset(
    {"the", "this", "that", "our", "my", "each", "every", "la", "le", "el", "o", "der", "die", "das"}
)
_FILLERS = frozenset({"like", "actually", "really", "even", "literally", "kinda"})
_MESSAGE_WORDS = frozenset({"message", "dm", "msg"})
_HAVE = frozenset({"have", "had", "get", "grab"})
# Words that open a reported clause: "che è un robot", "que es un bot", "dass es ein Bot ist".
_THAT = frozenset({"che", "que", "that", "dass", "dat", "bahwa", "ki"})
_IDLE_QUESTION = PhraseSet.of(lexicon.IDLE_QUESTION)
# Words before a negation that make it a yes/no question: "bisa tidak?", "or not", "ou não".
_OR_NOT = frozenset({"or", "ou", "oder", "atau", "bisa", "boleh", "ada", "apa", "bs"})
# Words between a person and "online"/"available" that do not count in the distance.
_NOW = frozenset(
    {
        "nya",
        "lagi",
        "still",
        "currently",
        "now",
        "ahora",
        "agora",
        "jetzt",
        "maintenant",
        "adesso",
        "sekarang",
        "abhi",
    }
)
_FUTURE = frozenset({"ill", "will", "well", "gonna", "shall"})  # "I'll get my manager to look at it"
_AND = frozenset(
    {"and", "or", "y", "o", "e", "ou", "et", "und", "oder", "en", "of", "dan", "atau", "aur", "ya"}
)
_NEGATORS = lexicon.NEGATORS
_NUMBER = re.compile(r"^\d+$")
_NUMBER_WORDS = lexicon.NUMBER_WORDS

# --------------------------------------------------------------------------------------------------
# Explicit requests
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Frame:
    """A request verb and its noun, found in a message."""

    rule: str
    first: int
    last: int
    score: float
    language: str | None
    negated: bool
    # Whether the customer is talking to a bot, asked ("are you a bot?"): answered, not a request.
    question: bool = False


def _lang(match: Match) -> str:
    return match.phrase.tag.split(":", 1)[1]


@lru_cache(maxsize=2048)
def _nouns(a: Analysis) -> tuple[Match, ...]:
    words = a.words
    found: list[Match] = [*_HUMAN.find(words), *_SOMEONE.find(words), *_DEPARTMENT.find(words)]
    covered = {i for m in found for i in range(m.first, m.last + 1)}
    for i, word in enumerate(words):
        if i in covered or len(word) < 7 or not word.isalpha():
            continue
        cutoff = 2 if len(word) >= 11 else 1
        best = process.extractOne(word, _FUZZY_NOUNS.keys(), scorer=Levenshtein.distance, score_cutoff=cutoff)
        if best is not None and best[0][0] == word[0]:
            found.append(Match(_FUZZY_NOUNS[best[0]], i, i))
    found.extend(m for m in _your_team(a) if not any(m.first <= i <= m.last for i in covered))
    return tuple(_real(a, m) for m in found if not _false_friend(a, m))


_YOUR_TEAM = Phrase.parse("your team", tag="human:en")


def _your_team(a: Analysis) -> list[Match]:
    """ "your onboarding team", "your tech guy", "un membre de votre équipe": "your", at most two
    words that say what they do, and a team or person noun that ends the phrase (the next word a
    function word, or none in the clause: "your team plan" is a plan)."""
    words, tokens = a.words, a.tokens
    found: list[Match] = []
    for i, word in enumerate(words):
        if word not in lexicon.YOUR_WORDS:
            continue
        for j in range(i + 1, min(i + 4, len(words))):
            if tokens[j].clause != tokens[i].clause:
                break
            if words[j] in lexicon.TEAM_NOUNS:
                following = j + 1 < len(words) and tokens[j + 1].clause == tokens[j].clause
                if not following or words[j + 1] in lexicon.FUNCTION_WORDS:
                    found.append(Match(_YOUR_TEAM, i, j))
                break
            if not words[j].isalpha() or words[j] in lexicon.FUNCTION_WORDS:
                break
    return found


def _real(a: Analysis, noun: Match) -> Match:
    """ "someone real", "qualcuno in carne e ossa", "jemanden aus der Buchhaltung": a pronoun made a
    person by a qualifier next to it counts as a human noun."""
    if not noun.phrase.tag.startswith("someone"):
        return noun
    words = a.words
    clause = a.tokens[noun.first].clause
    for m in _REAL.find(words):
        if a.tokens[m.first].clause == clause and (
            0 < m.first - noun.last <= 3 or 0 < noun.first - m.last <= 2
        ):
            # A qualifier after the pronoun belongs to it ("jemanden aus Fleisch und Blut, mit dem
            # ich das klären kann": the verb is counted from its end).
            last = m.last if m.first > noun.last else noun.last
            return Match(replace(noun.phrase, tag="human:" + _lang(noun)), noun.first, last)
    after = words[noun.last + 1 : noun.last + 5]
    if after[:1] and after[0] in lexicon.FROM_WORDS:
        rest = analyse(" ".join(after[1:]))
        if _DEPARTMENT.find(rest.words) or set(after[1:]) & lexicon.TEAM_WORDS:
            departments = _DEPARTMENT.find(rest.words)
            last = noun.last + 2 + departments[0].last if departments else noun.last
            return Match(replace(noun.phrase, tag="human:" + _lang(noun)), noun.first, last)
    return noun


def _fuzzy_verbs(words: Sequence[str], known: set[int]) -> list[Match]:
    """Request verbs with one typo ("conect me to a live agent")."""
    found: list[Match] = []
    for i, word in enumerate(words):
        # A word of some language's own ("haben", not "hablen" mistyped) is no typo.
        if i in known or len(word) < 5 or not word.isalpha() or word in _FUZZY_VERBS or word in _OWN_WORDS:
            continue
        best = process.extractOne(word, _FUZZY_VERBS.keys(), scorer=Levenshtein.distance, score_cutoff=1)
        # A five-letter word must have lost or gained a letter, not changed one: "pasta" is a word
        # of its own, not "pasar" mistyped.
        if (
            best is not None
            and best[0][0] == word[0]
            and abs(len(best[0]) - len(word)) <= 1
            and (len(word) >= 6 or len(best[0]) != len(word))
        ):
            found.append(Match(_FUZZY_VERBS[best[0]], i, i))
    return found


def _gap(words: Sequence[str], left: int, right: int, *, light: frozenset[str] | None = None) -> int:
    """Words between `left` and `right` that carry meaning (articles, "please", pronouns do not)."""
    skip = _LIGHT if light is None else light
    return sum(1 for w in words[left + 1 : right] if w not in skip) + 1


def _previous_word(words: Sequence[str], index: int) -> str:
    j = index - 1
    while j >= 0 and words[j] in lexicon.ARTICLES:
        j -= 1
    return words[j] if j >= 0 else ""


# "If" that supposes a case: not Portuguese "se" nor Spanish "si" (also "himself" and "yes"), nor
# Dutch "als" ("as").
_SUPPOSING = (_IF - {"se", "si", "als"}) | {"unless", "kalo"}
_RATHER_IF = frozenset(
    {"better", "best", "easier", "simpler", "quicker", "faster", "prefer", "rather", "great", "nice"}
)


def _hypothetical(a: Analysis, first: int) -> bool:
    """Whether the frame starting at `first` is said of a case the customer supposes: "if" and the
    customer as subject right after it, earlier in its clause ("if I ever need a person", "wenn ich
    mal jemanden brauche"), not "if possible, ..." nor "if I could speak with ..." (politeness)."""
    words, tokens = a.words, a.tokens
    for i in range(first - 1, -1, -1):
        if tokens[i].clause != tokens[first].clause:
            return False
        if words[i] in _SUPPOSING:
            # ("... easier if I could speak with one of your colleagues": a wish, said politely.)
            polite = i + 2 < len(words) and words[i + 2] in lexicon.ASKING_MODALS | {"may", "might"}
            # ("I think it's better if I speak to someone directly": a preference, not a case.)
            polite = polite or (i > 0 and words[i - 1] in _RATHER_IF)
            return (
                i + 1 < first and words[i + 1] in lexicon.SUBJECT_PRONOUNS | lexicon.WE_WORDS and not polite
            )
    return False


def _hyphened(a: Analysis, noun: Match) -> bool:
    """ "a person-to-person chat", "human-in-the-loop": the noun joined by a hyphen to the next word
    is part of a modifier."""
    start, end = a.tokens[noun.first].start, a.tokens[noun.last].end
    # ("agente-humano" joins two words for a person: still one.)
    after = (
        a.raw[end : end + 1] == "-"
        and a.raw[end + 1 : end + 2].isalpha()
        and not list(_HUMAN.find(a.words[noun.last + 1 : noun.last + 2]))
    )
    # ... or to the word before it, which is joined onward too ("to-person" of "person-to-person")
    before = start >= 2 and a.raw[start - 1] == "-" and "-" in a.raw[max(0, start - 12) : start - 1]
    return after or before


def _false_friend(a: Analysis, noun: Match) -> bool:
    if _hyphened(a, noun):
        return True
    words = a.words
    clause = a.tokens[noun.first].clause
    # Only words of the same clause qualify a noun: "no bot, human please".
    same = [t.text if t.clause == clause else "" for t in a.tokens]
    before = _previous_word(same, noun.first)
    # "por agente", "per agent" is a price per seat; "por um humano" (by a human) has an article.
    per = before in _PER and noun.first > 0 and same[noun.first - 1] != before
    if (
        (before in lexicon.FALSE_FRIEND_BEFORE and not per)
        or _NUMBER.match(before)
        or before in _NUMBER_WORDS
    ):
        return True
    # "more than one person", "mais de uma pessoa", "mehr als ein Mitarbeiter": a count.
    j = noun.first - 1
    while j >= 0 and same[j] in lexicon.COUNT_ONE:
        j -= 1
    if j >= 1 and same[j] in lexicon.COUNT_THAN and same[j - 1] in lexicon.COUNT_MORE:
        return True
    after = same[noun.last + 1 : noun.last + 3]
    if after[:1] and after[0] in lexicon.FALSE_FRIEND_AFTER:
        return True
    if len(after) == 2 and after[0] in lexicon.OF_WORDS and after[1] in lexicon.FALSE_FRIEND_AFTER:
        return True
    # "I'm human too", "soy agente inmobiliario", "I'm a real person, not a bot"; not "ser atendida
    # por uma pessoa" (served by one).
    for m in _SELF.find(words):
        if (
            m.last < noun.first
            and noun.first - m.last <= 4
            and a.tokens[m.first].clause == clause
            and not set(words[m.last + 1 : noun.first]) & _BY
        ):
            return True
    return False


_POLITE_NO = frozenset({"no", "nao", "non"})
_CAN_YOU = frozenset(
    {
        "podes",
        "puedes",
        "podrias",
        "podria",
        "habra",
        "habria",
        "puede",
        "pueden",
        "podrian",
        "pode",
        "podem",
        "poderia",
        "poderiam",
        "puoi",
        "potete",
        "potresti",
        "pourriez",
        "pouvez",
        "pourrais",
        "peux",
        "potreste",
        "potrebbe",
    }
)


def _polite_negative(a: Analysis, m: Match) -> bool:
    """ "¿no me podés pasar con alguien?", "vous pourriez pas m'appeler ?", "no habrá alguien que me
    pueda marcar?": a negative question that asks politely."""
    words = a.words
    cue = words[m.first]
    polite = (cue in _POLITE_NO and bool(set(words[m.last + 1 : m.last + 3]) & _CAN_YOU)) or (
        cue == "pas" and m.first > 0 and words[m.first - 1] in _CAN_YOU
    )
    # "¿no hay algún número donde pueda hablar con alguien?", "non c'è qualcuno con cui parlare?":
    # asking whether there is no one is asking for one.
    there_is = cue in _POLITE_NO and any(e.first == m.last + 1 for e in _EXIST_BEFORE.find(words))
    return (polite or there_is) and _in_question(a, m.first)


def _in_question(a: Analysis, index: int) -> bool:
    """Whether the sentence of word ``index`` ends with a question mark."""
    rest = a.raw[a.tokens[index].start :]
    end = min((rest.find(m) for m in ".!\n" if m in rest), default=len(rest))
    return "?" in rest[: end + 1] or "؟" in rest[: end + 1]


def _one_sentence(a: Analysis, i: int, j: int) -> bool:
    """Whether no full stop, question or exclamation mark stands between words ``i`` and ``j`` (an
    ellipsis is a pause: "can I talk to... a human?")."""
    between = a.raw[a.tokens[i].end : a.tokens[j].start].replace("...", "").replace("…", "")
    return not any(mark in between for mark in ".!?؟")


def _negated(a: Analysis, first: int, last: int) -> bool:
    words, tokens = a.words, a.tokens
    clause = tokens[first].clause
    for m in _NEG_BEFORE.find(words):
        if m.first > last or first - m.last > 7 or tokens[m.first].clause != clause:
            continue
        cue = words[m.first]
        if cue == "personne" and m.first > 0 and words[m.first - 1] in lexicon.PERSON_ARTICLES:
            continue
        if _in_the(a, cue) or (m.first > 0 and words[m.first - 1] in _OR_NOT):
            continue  # "bisa tidak ya saya dihubungi", "can you or not": a yes/no question
        # "¿no me podés pasar con alguien?", "non mi puoi passare un operatore?": a polite question.
        if _polite_negative(a, m):
            continue
        # "eu não entendo muito disso não se alguém puder me ligar": an "if" after the negation
        # opens the request's own clause; the "não" closed the sentence before it.
        if any(
            words[i] in _IF and (words[i + 1] in lexicon.SUBJECT_PRONOUNS or words[i + 1] in _SOMEONE_WORDS)
            for i in range(m.last + 1, first)
        ):
            continue
        # "no I want a human": an interjection before a subject pronoun, not a negation.
        nxt = words[m.last + 1] if m.last + 1 < len(words) else ""
        if len(m.phrase.slots) == 1 and cue in lexicon.INTERJECTION_NO and nxt in lexicon.SUBJECT_PRONOUNS:
            continue
        return True
    return _negated_after(a, last)


def _negated_after(a: Analysis, last: int) -> bool:
    """A negation right after the request, in its clause ("agent nahi chahiye", "temsilciyle
    görüşmek istemiyorum")."""
    clause = a.tokens[last].clause
    return any(
        last < m.first <= last + 3 and a.tokens[m.first].clause == clause for m in _NEG_AFTER.find(a.words)
    )


def _about_others(
    a: Analysis, first: int, last: int, *, ignore: frozenset[str] = frozenset(), reach: int = 8
) -> bool:
    """A frame about the bot, customers or conversations ("my customers want to talk to a human"),
    unless "me"/"I" sits right before or inside it ("the bot is useless I want a human"). `reach`
    is how far back a third party is looked for."""
    clause = a.tokens[first].clause
    # The object can follow the frame: "we want to route support chats to the right team".
    span = [
        i for i in range(max(0, first - reach), min(len(a.tokens), last + 3)) if a.tokens[i].clause == clause
    ]
    # "soy cliente y quiero hablar con alguien", "I'm a customer": the customer says who they are.
    others = {
        a.words[i]
        for i in span
        if a.words[i] in lexicon.THIRD_PARTY and not set(a.words[max(0, i - 2) : i]) & _I_AM
    }
    if not others - ignore:
        return False
    tokens = a.tokens[max(0, first - 3) : last + 1]
    # "pelanggan saya", "clientes meus", "admin saya": a possessive after the third party or after
    # one of the customer's own staff is not the customer.
    own = {
        t.text
        for i, t in enumerate(tokens)
        if t.clause == clause
        and not (i and (tokens[i - 1].text in lexicon.THIRD_PARTY or tokens[i - 1].text in _HUMAN))
        # "passer la main": a word after an article is a noun, not a pronoun ("main" is Hindi "I").
        and not (i and tokens[i - 1].text in lexicon.ARTICLES)
    }
    return not own & lexicon.FIRST_PERSON


_I_AM = frozenset({"soy", "sou", "sono", "im", "am", "suis", "bin", "ben"})
_CALLERS = frozenset(
    {"you", "u", "ya", "someone", "somebody", "anyone", "alguien", "alguem", "vous", "qualcuno"}
)


def _their_people_call(a: Analysis, call: int) -> bool:
    """ "mis clientes always want to call me": the customer's own customers call them; a caller
    of ours ("can someone from your team call me") is no third party."""
    clause = a.tokens[call].clause
    before = [t.text for t in a.tokens[max(0, call - 5) : call] if t.clause == clause]
    return bool(set(before) & lexicon.PEOPLE_SERVED) and not set(before) & _CALLERS


def _plural(words: Sequence[str], noun: Match) -> bool:
    """'agents', 'atendentes': a plural human noun talks about staff, not about one helper."""
    word = words[noun.last]
    return word.endswith("s") and (word[:-1] in _HUMAN or word[:-2] in _HUMAN)


def _staff(a: Analysis, noun: Match) -> Match:
    """`noun` as one of the company's staff when the words after it set it on the company's side
    ("someone from the team", "alguien de ustedes", "jemand von euch"): a human noun running to
    that word. Otherwise `noun` as it is."""
    if noun.phrase.tag.startswith("department"):
        return noun
    clause = a.tokens[noun.first].clause
    after = [
        i for i in range(noun.last + 1, min(noun.last + 5, len(a.words))) if a.tokens[i].clause == clause
    ]
    if not after or a.words[after[0]] not in lexicon.FROM_WORDS | lexicon.OF_WORDS:
        return noun
    for i in after[1:]:
        if a.words[i] in lexicon.YOUR_SIDE:
            return Match(replace(noun.phrase, tag="human:" + _lang(noun)), noun.first, i)
        if a.words[i] not in lexicon.ARTICLES:
            return noun
    return noun


def _plural_object(words: Sequence[str], pronoun: int, verb: Match) -> bool:
    """ "talk to them about it" after naming customers is handled by `_about_others`; here only a
    pronoun after a determiner or inside a longer noun phrase is ruled out ("talk to their team")."""
    return pronoun > 0 and words[pronoun - 1] in lexicon.ARTICLES


def _between(words: Sequence[str], left: int, right: int) -> Sequence[str]:
    return words[left + 1 : right]


# A quoted span: an opening quote not inside a word ("I'd" opens nothing), 2 to 80 characters.
_QUOTED = re.compile(r"(?<!\w)['‘\"“«„]([^'\"“”‘’«»\n]{2,80}?)['’\"”»“](?!\w)")


_SOMEONE_ELSE = lexicon.PEOPLE_SERVED | lexicon.THIRD_PARTY | lexicon.SOMEONE_ELSE


def _labels(a: Analysis) -> list[tuple[int, int]]:
    """Word ranges of quoted text that names something the customer builds for their own customers,
    or a word typed into it: "can I add a 'talk to a person' button?", "if someone texts 'agent'"
    (a build or say verb at most four words before the quote); a motto ("our motto is literally
    'always a human on the other end'"); or someone else's words ("a customer once messaged us 'I
    want to speak to your manager'": a verb of saying in the past, with a third party before it)."""
    spans: list[tuple[int, int]] = []
    for quote in _QUOTED.finditer(a.raw):
        inside = a.within(quote.start(1), quote.end(1))
        if not inside:
            continue
        before = set(a.words[max(0, inside[0] - 4) : inside[0]])
        reported = (
            before & lexicon.REPORT_VERBS and set(a.words[max(0, inside[0] - 6) : inside[0]]) & _SOMEONE_ELSE
        )
        if before & (lexicon.BUILD_VERBS | lexicon.SAY_VERBS | lexicon.QUOTE_NOUNS) or reported:
            spans.append((inside[0], inside[-1]))
    return spans


_NEEDED = PhraseSet.of(lexicon.PROCESS_QUESTIONS)
_OWN_TEAM = frozenset({"team", "staff", "agents", "people", "reps", "colleagues", "employees"})


def _asks_if_needed(a: Analysis, frame: _Frame, needed: Sequence[Match]) -> bool:
    """ "Do I need to speak to someone to upgrade, or can I do it myself?": a question whether a
    person is needed, not a request for one (`needed`'s lead-in in the frame's clause, before it)."""
    clause = a.tokens[frame.first].clause
    return any(
        m.last < frame.first and frame.first - m.last <= 3 and a.tokens[m.first].clause == clause
        for m in needed
    )


def _to_their_own_team(a: Analysis, frame: _Frame) -> bool:
    """ "does it put them through to my team?": passed on to the customer's own people."""
    words = a.words
    after = words[frame.last + 1 : frame.last + 5]
    return any(
        w in lexicon.POSSESSIVES and w not in lexicon.ABOUT_US and nxt in _OWN_TEAM
        for w, nxt in pairwise(after)
    ) and bool(set(words[frame.first : frame.last + 1]) & {"them", "him", "her"})


@lru_cache(maxsize=2048)
def _frames(text: str) -> tuple[_Frame, ...]:
    frames = _find_frames(text)
    if frames and ("'" in text or '"' in text or any(q in text for q in "‘“«„")):
        labels = _labels(analyse(text))
        # A frame touching a label names it ("'agent' does it route"): the label is no request.
        frames = [f for f in frames if not any(f.first <= last and first <= f.last for first, last in labels)]
    if frames:
        a = analyse(text)
        frames = [f for f in frames if not _asks_the_hours(a, f) and not _to_their_own_team(a, f)]
        needed = _NEEDED.find(a.words) if "?" in text else ()
        if needed:
            frames = [replace(f, question=True) if _asks_if_needed(a, f, needed) else f for f in frames]
    questions = [f for f in frames if f.question]
    if questions:
        # "am I talking to a real person?": the talk verb and its person are the question's words.
        frames = [
            f
            for f in frames
            if f.question or not any(q.first <= f.first and f.last <= q.last for q in questions)
        ]
    return tuple(frames)


# Rules that ask for a person's contact, which a question about the hours does too ("what time can
# someone call me?").
_CALLS = frozenset({"call me", "call back"})


_THIS_BEFORE = frozenset({"this", "esta", "essa", "cette", "diese", "dieser", "questa", "dit", "deze"})
_THIS_AFTER = frozenset({"segini", "ini", "hii", "nay"})


def _this_hour(words: Sequence[str], index: int) -> bool:
    """ "jam segini ada orangnya?", "at this hour", "a esta hora": now, not the opening hours."""
    after = words[index + 1] if index + 1 < len(words) else ""
    return after in _THIS_AFTER or (index > 0 and words[index - 1] in _THIS_BEFORE)


def _asks_the_hours(a: Analysis, frame: _Frame) -> bool:
    """ "what hours is your sales team around?", "Wann ist der Support erreichbar?", "what are your
    sales hours in case I want to chat to them later?": a question about when a team works. The
    frame's sentence is a question with an hours word in it, and no person is asked for in the frame
    ("when is someone available?" asks for one)."""
    if frame.rule in _CALLS or not _in_question(a, frame.first):
        return False
    words = a.words
    if not any(
        w in lexicon.HOURS_WORDS
        and not _this_hour(words, i)
        and _one_sentence(a, min(i, frame.first), max(i, frame.first))
        for i, w in enumerate(words)
    ):
        return False
    nouns = [n for n in _nouns(a) if frame.first <= n.first and n.last <= frame.last]
    teams = {(n.first, n.last) for n in nouns if n.phrase.tag.startswith("department")}
    return not any((n.first, n.last) not in teams for n in nouns)


_SUPPORT_SUBJECTS = frozenset({"this", "it", "that", "you", "u", "they", "which", "ya", "yall"})


def _a_count(words: Sequence[str], index: int) -> bool:
    """Whether a number stands at `index` ("ada 3 orang", "there are five agents here")."""
    return index < len(words) and (words[index].isdigit() or words[index] in lexicon.NUMBER_WORDS)


def _next_word(words: Sequence[str], index: int) -> str:
    return words[index + 1] if index + 1 < len(words) else ""


def _asked_who_then_them(a: Analysis) -> list[_Frame]:
    """ "Who would I discuss a custom contract with? Could you connect me with them?": a talk,
    connect or contact verb with a pronoun for the person a question before asked about."""
    words = a.words
    them = [i for i, w in enumerate(words) if w in lexicon.THIRD_PERSON_OBJECTS]
    asked = [k for k, w in enumerate(words) if w in lexicon.WHO_WORDS and _in_question(a, k)] if them else []
    if not asked:
        return []
    for verb in [*_TALK.find(words, gap=1), *_CONNECT.find(words, gap=1), *_CONTACT.find(words, gap=1)]:
        for i in them:
            before = min(i, verb.first)
            if (
                0 < abs(i - verb.first) <= 3
                and not _plural_object(words, i, verb)
                and any(k < before and not _one_sentence(a, k, before) for k in asked)
            ):
                first, last = before, max(i, verb.last)
                return [_Frame("talk+them", first, last, 0.85, _lang(verb), _negated(a, first, last))]
    return []


def _find_frames(text: str) -> list[_Frame]:
    a = analyse(text)
    words = a.words
    if not words:
        return []
    # "comment on ajoute un collègue ?", "how do I add an agent": a person added to the product.
    nouns = tuple(n for n in _nouns(a) if _previous_word(words, n.first) not in lexicon.BUILD_VERBS)
    frames: list[_Frame] = []
    for call in _CALL_ME.find(words, gap=1):
        # "you can call me Ana" gives a name, "call me crazy" is an idiom, "they call me" a report.
        # ("Können Sie mich anrufen? Ich erkläre ...": a capital after the question is a new sentence.)
        nxt = a.tokens[call.last + 1] if call.last + 1 < len(words) else None
        if nxt is not None and nxt.clause != a.tokens[call.last].clause:
            nxt = None
        if nxt is not None and (a.raw[nxt.start].isupper() or nxt.text in lexicon.CALL_ME_IDIOMS):
            continue
        clause_start = call.first == 0 or a.tokens[call.first - 1].clause != a.tokens[call.first].clause
        if not clause_start and not set(words[max(0, call.first - 3) : call.first]) & lexicon.REQUEST_MOOD:
            continue
        if not _about_others(a, call.first, call.last) and not _their_people_call(a, call.first):
            negated = _negated(a, call.first, call.last)
            frames.append(_Frame("call me", call.first, call.last, 0.85, None, negated))
    frames.extend(_phrase_frames(a))
    frames.extend(_asked_who_then_them(a))
    if not nouns:
        return frames

    def add(rule: str, verb: Match, noun: Match, score: float) -> None:
        first, last = min(verb.first, noun.first), max(verb.last, noun.last)
        # A department's own name is not about others ("quelqu'un du service client").
        own_name = (
            frozenset(words[noun.first : noun.last + 1])
            if noun.phrase.tag.startswith("department")
            else frozenset()
        )
        # "... for client reminders and would appreciate speaking with a member of your staff": a
        # person of ours asked for; only a third party close before it makes the frame theirs.
        ours = noun.first > verb.last and bool(set(words[noun.first : noun.last + 1]) & lexicon.ABOUT_US)
        if _about_others(a, first, last, ignore=own_name, reach=3 if ours else 8):
            return
        # "mai apne manager se baat karke batata hu": the customer's own manager ("apne": one's own,
        # the subject's: "aap apne sales wale se baat karwa do" is ours).
        own = [i for i in range(max(0, noun.first - 2), noun.first) if words[i] in _OWN]
        if own and set(words[max(0, own[0] - 4) : own[0]]) & _I_SUBJECT:
            return
        # "if I ever need a real person I'll shout": a request the customer may make one day.
        if _hypothetical(a, first):
            return
        # Before the frame, "was" and "did" are politeness ("I was hoping someone could call me"),
        # "fui atendida" and "yesterday" are not.
        before = set(a.words[max(0, first - 2) : first]) - _POLITE_PAST
        # What follows counts within the sentence ("... to reach out? we're a team of 60").
        after = {a.words[i] for i in range(first, min(last + 3, len(a.words))) if _one_sentence(a, last, i)}
        # ("ktoś od was": Polish "you", no English "was"; German "was" is "what".)
        past = lexicon.PAST_MARKERS if _lang(noun) in {"en", "common"} else lexicon.PAST_MARKERS - {"was"}
        if rule.startswith(("talk", "contact", "help")) and (
            (after | before) & past or before & lexicon.PAST_TIME_BEFORE
        ):
            # "the agent I was talking to yesterday", "someone rang me yesterday", "der Mitarbeiter,
            # der mir gestern helfen konnte", "la semana pasada hablé con ...": a report
            return
        if rule.startswith("talk") and _written_past(a, verb.first):
            # "hablé con una persona de ventas", "j'ai parlé avec un conseiller": a report
            return
        frames.append(_Frame(rule, first, last, score, _lang(noun), _negated(a, first, last)))

    # "someone from the team", "alguém de vcs", "quelqu'un de chez vous": a person set on the
    # company's side is one of its staff; the noun runs to the word that says so.
    nouns = tuple(_staff(a, n) for n in nouns)
    humans = [n for n in nouns if n.phrase.tag.startswith("human")]
    people = [n for n in nouns if not n.phrase.tag.startswith("department")]
    talk = list(_TALK.find(words, gap=1))
    connect = list(_CONNECT.find(words, gap=1))
    contact = list(_CONTACT.find(words, gap=1))
    known = {i for m in [*talk, *connect, *nouns] for i in range(m.first, m.last + 1)}
    for fuzzy in _fuzzy_verbs(words, known):
        (talk if fuzzy.phrase.tag.startswith("talk") else connect).append(fuzzy)
    for verb in talk:
        # "the chat history", "chat window": the verb is a noun here.
        if verb.last + 1 < len(words) and words[verb.last + 1] in lexicon.FALSE_FRIEND_AFTER:
            continue
        # "does it pass the chat to a human?", "a message to your agent": a determiner makes the
        # verb a noun.
        if verb.first == verb.last and verb.first > 0:
            determiner = words[verb.first - 1]
            # German puts the verb last, after "das" as its object: "mit dem ich das klären kann"
            # ("das Klären", "das chatten mit einem Agenten" are nouns).
            german_verb = determiner in _GERMAN_ARTICLES and (
                verb.last + 1 == len(words)
                or a.tokens[verb.last + 1].clause != a.tokens[verb.last].clause
                or words[verb.last + 1] in _GERMAN_MODALS
            )
            # "assign a chat to an agent" names a conversation; "have a chat to someone" is talking.
            a_chat = words[verb.first] == "chat" and _previous_word(words, verb.first - 1) not in _HAVE
            if (determiner in _NOUN_DETERMINERS and not german_verb) or (
                determiner in lexicon.ARTICLES and (words[verb.first] in _MESSAGE_WORDS or a_chat)
            ):
                continue
        for noun in nouns:
            # "does this support that many seats?": "support" after its subject is the verb.
            if words[noun.first] == "support" and _previous_word(words, noun.first) in _SUPPORT_SUBJECTS:
                continue
            if noun.first > verb.last and _gap(words, verb.last, noun.first) <= 5:
                # "chat aja. jam operasional cs nya sampe jam brp?": a sentence ends in between.
                if not set(_between(words, verb.last, noun.first)) & lexicon.ABOUT_WORDS and _one_sentence(
                    a, verb.last, noun.first
                ):
                    add("talk+noun", verb, noun, 0.95)
            elif noun.last < verb.first and (
                verb.first - noun.last <= 5
                # German and Dutch put the verb at the end of a relative clause ("jemanden, mit dem
                # ich das persönlich besprechen kann"): counted in words that carry meaning.
                or (
                    _lang(noun) in {"de", "nl"}
                    and verb.first - noun.last <= 8
                    and _gap(words, noun.last, verb.first) <= 4
                )
            ):
                # The noun before the verb must be its object ("mit einem Menschen sprechen", "agent
                # se baat"), or another subject must sit between ("a human I could speak to"), else
                # it is the subject ("your agents speak Spanish").
                gap = set(_between(words, noun.last, verb.first))
                # A qualifier the noun was extended with counts as between: "kisi se phone pe baat".
                inside = set(words[noun.first + 1 : noun.last + 1]) & lexicon.WITH_WORDS
                # ("a" before the noun is an article here, not the Spanish/Portuguese "to".)
                # German and Dutch put the verb last, the subject further back ("zou ik misschien eerst
                # even iemand van jullie kunnen spreken").
                reach = 5 if _lang(noun) in {"de", "nl"} else 3
                lead = set(words[max(0, noun.first - reach) : noun.first]) - lexicon.ARTICLES
                allowed = (gap | lead | inside) & (lexicon.WITH_WORDS | lexicon.SUBJECT_PRONOUNS)
                # "alguém da equipe pode falar comigo?", "can someone talk to me?", "kya koi
                # executive mujhse baat kar sakta hai?": the person talks, to the customer, asked
                # for (the mood between them or just before the person).
                asked_for = (gap | set(words[max(0, noun.first - 2) : noun.first])) & lexicon.REQUEST_MOOD
                to_me = (
                    bool(asked_for)
                    and not _plural(words, noun)
                    and any(
                        m.first == verb.last + 1 or noun.last < m.first <= m.last < verb.first
                        for m in _WITH_ME.find(words)
                    )
                )
                if (allowed or to_me) and not gap & lexicon.RELATIVE_WORDS:
                    add("talk+noun", verb, noun, 0.9)
    # "sales wale bande ka number milega? direct unse baat karni hai", "is there a sales guy? I'd
    # rather talk to him": a pronoun standing for a person or department named earlier.
    # "vorrei parlarci": the verb and the pronoun in one word.
    them = [i for i, w in enumerate(words) if w in lexicon.THIRD_PERSON_OBJECTS or w in lexicon.TALK_TO_THEM]
    # "can you get hold of her for me?" after naming her; "... call them back" after naming people
    # is about the customer's own customers.
    for verb in [*talk, *connect, *contact] if them else ():
        for i in them:
            if verb in contact and words[i] in lexicon.PLURAL_OBJECTS:
                continue
            named = [n for n in nouns if n.last < min(i, verb.first)]
            near = 0 < abs(i - verb.first) <= 3 or (i == verb.first and words[i] in lexicon.TALK_TO_THEM)
            if not near or _plural_object(words, i, verb):
                continue
            if named:
                noun = next((n for n in reversed(named) if _lang(n) == _lang(verb)), named[-1])
                add("talk+them", verb, Match(noun.phrase, i, i), 0.85)
    for verb in connect:
        # "does it connect to Meta Business Manager?", "can this connect with HubSpot?": the product linking
        # to something, not the customer put through to someone.
        if set(words[max(0, verb.first - 2) : verb.first]) & _LINKING_SUBJECTS:
            continue
        for noun in nouns:
            if noun.first > verb.last and _gap(words, verb.last, noun.first) <= 5:
                # "se puede conectar con siigo para la facturación?": linked to something, for a
                # department's work; the department comes after a word of purpose.
                # ("me passa pra um atendente": "pra" right after the verb is where to.)
                if any(w in _FOR_WORK for w in _between(words, verb.last, noun.first)[2:]):
                    continue
                add("connect+noun", verb, noun, 0.9)
            elif noun.last < verb.first and verb.first - noun.last <= 4:
                add("connect+noun", verb, noun, 0.85)
    for verb in [*contact, *_HELP.find(words, gap=1)]:
        kind = verb.phrase.tag.split(":", 1)[0]
        for noun in people if kind == "help" else nouns:
            if kind == "help" and _plural(words, noun):
                continue  # "can my human agents take over from the bot?": the customer's own staff
            if kind == "help" and set(words[max(0, noun.first - 2) : noun.first]) & _MY:
                continue  # "i'll get my ops manager to look at it": the customer's own person
            distance = noun.first - verb.last if noun.first > verb.last else verb.first - noun.last
            between = set(_between(words, min(noun.last, verb.last), max(noun.first, verb.first)))
            # "can someone from the team who knows integrations message me back?": asked for by a
            # modal, the person is the verb's subject past a relative clause.
            asked = (
                kind == "contact"
                and noun.last < verb.first
                and _previous_word(words, noun.first) in lexicon.ASKING_MODALS
                and bool(between & lexicon.RELATIVE_WORDS)
                and not between & lexicon.SUBJECT_PRONOUNS
            )
            if (0 < distance <= 5 and not between & lexicon.RELATIVE_WORDS) or (asked and 0 < distance <= 8):
                add(f"{kind}+noun", verb, noun, 0.85)
    for verb in _WANT.find(words):
        if _previous_word(words, verb.first) in lexicon.WE_WORDS:
            continue
        # "I'll get my ops manager to look at it": the customer fetches their own people.
        if words[verb.first] == "get" and (
            _previous_word(words, verb.first) in _FUTURE or words[verb.last + 1 : verb.last + 2] == ("my",)
        ):
            continue
        postposed = words[verb.first] in lexicon.POSTPOSED_WANT
        for noun in humans:
            if _plural(words, noun):
                continue
            # "mau tanya jam operasional cs": wanting to ask about them ("I want to ask a human" asks one).
            asks = [i for i in range(verb.last + 1, noun.first) if words[i] in lexicon.ASK_VERBS]
            if asks and any(words[i] not in _DETERMINERS for i in range(asks[0] + 1, noun.first)):
                continue
            # "I need to check with my office manager": consulting their own people first.
            if set(words[max(0, noun.first - 2) : noun.first]) & _MY and any(
                words[i] in lexicon.CONSULT_VERBS for i in range(verb.last + 1, noun.first)
            ):
                continue
            after = (
                noun.first > verb.last
                and _gap(words, verb.last, noun.first) <= 4
                and a.tokens[noun.first].clause == a.tokens[verb.last].clause
            )
            # "müşteri temsilcisi olarak çalışmak istiyorum": a verb of its own between (a Turkish
            # infinitive) is what is wanted, not the person.
            before = (
                postposed
                and noun.last < verb.first
                and verb.first - noun.last <= 3
                and not any(w.endswith(_TURKISH_INFINITIVE) for w in words[noun.last + 1 : verb.first])
            )
            if after or before:
                add("want+noun", verb, noun, 0.9)
    # "Is there a human?", "tem algum atendente humano?", "koi banda hai?"; in a longer message a
    # pronoun only with what it can do for the customer ("is there somebody on your end who could
    # pick this up with me?").
    described = [n for n in people if n not in humans and _a_helper(a, n)]
    for cue in _EXIST_BEFORE.find(words):
        for noun in [*humans, *described] if len(words) > 5 else people:
            # Fillers do not count in the distance: "is there like an actual human i can dm".
            if noun.first > cue.last and _gap(words, cue.last, noun.first, light=_LIGHT | _FILLERS) <= 3:
                if _plural(words, noun) and words[cue.first] not in lexicon.EXIST_ANY:
                    continue
                # "c'è un limite di operatori?": the person word says what another noun is of.
                if _previous_word(words, noun.first) in _OF and noun.first - cue.last > 1:
                    continue
                add("exists+noun", cue, noun, 0.8)
    for cue in _EXIST_AFTER.find(words):
        # "tienen a alguien disponible ahorita? es sobre un pedido ...": someone available is a
        # request in a message of any length; someone "here" or "there" only in a short one.
        # (A pronoun, not "your team": "until what time is your team available?" asks the hours.)
        available = words[cue.first] in lexicon.AVAILABLE_WORDS
        pronouns = [n for n in people if n.first == n.last and n not in humans] if available else []
        for noun in [*humans, *pronouns] if len(words) > 5 else people:
            # "anyone here?", "koi hai?"; a pronoun must be right before the cue ("koi discount
            # hai" asks about a discount).
            reach = 2 if noun.phrase.tag.startswith("human") else 1
            # "la personne d'hier" is yesterday's person, not a person here.
            between = set(_between(words, noun.last, cue.first))
            if between & (lexicon.OF_WORDS | lexicon.FROM_WORDS):
                continue
            # A place word of some languages only: "hier" is "here" in German and Dutch, after a
            # French noun it is yesterday ("j'ai parlé avec un conseiller hier"); "la" is "there" in
            # French and Portuguese, after an Italian noun an article ("un operatore la settimana").
            places = _PLACE_WORD_LANGUAGES.get(words[cue.first])
            if places is not None and _lang(noun) not in places:
                continue
            # "o atendente da loja me disse": a cue that is also "of" ("da") and runs on into its
            # clause joins two nouns; "ist jemand da?" ends the clause.
            if words[cue.first] in lexicon.OF_WORDS and _runs_on(a, cue.last):
                continue
            # "CS nya lagi online gak?": a clitic or "now" between does not count.
            near = cue.first - noun.last > 0 and _gap(words, noun.last, cue.first, light=_NOW) <= reach
            # "Manager here, we need pricing for 5 seats": who is writing, not who they want.
            introduces = (
                words[cue.first] == "here"
                and not _in_question(a, cue.first)
                and cue.last + 1 < len(words)
                and words[cue.last + 1] not in lexicon.BARE_FILLER
                and (noun.first == 0 or a.raw[: a.tokens[noun.first].start].rstrip()[-1:] in {".", "!", "\n"})
            )
            # "kami butuh untuk CS online shop": "online" says what the next noun is.
            compound = (
                words[cue.last] in lexicon.AVAILABLE_WORDS
                and _next_word(words, cue.last) in lexicon.ONLINE_THINGS
            )
            if (
                near
                and not _plural(words, noun)
                and not introduces
                and not compound
                and not _a_count(words, cue.last + 1)
                # "mera ek agent hai jo maal lata hai": the customer's own person, not one of ours.
                and not set(words[max(0, noun.first - 2) : noun.first])
                & (_MY | lexicon.POSSESSIVES - lexicon.ABOUT_US)
            ):
                add("noun+exists", cue, noun, 0.8)
    # A bare noun: a short clause made of a human noun and politeness ("real person pls", "agent!!",
    # "no bot, human please").
    # In a longer message, the clause must be a sentence of its own ("human pls. I own a tire shop
    # and don't have time for menus").
    # "satış temsilcisiyim": Turkish says "I am" (we are) with a suffix on the noun: who is
    # writing, not who they want.
    humans = [n for n in humans if not (_lang(n) == "tr" and words[n.last].endswith(_TURKISH_I_AM))]
    if humans:
        noun_tokens = {i for n in humans for i in range(n.first, n.last + 1)}
        clauses: dict[int, list[int]] = {}
        for i, token in enumerate(a.tokens):
            clauses.setdefault(token.clause, []).append(i)
        for indexes in clauses.values():
            if (
                len(indexes) <= 6
                and (len(words) <= 10 or _own_sentence(a, indexes[0], indexes[-1]))
                and all(i in noun_tokens or words[i] in lexicon.BARE_FILLER for i in indexes)
            ):
                bare = next((n for n in humans if n.first in indexes), None)
                if bare is not None:
                    negated = _negated(a, bare.first, bare.last)
                    frames.append(_Frame("bare noun", bare.first, bare.last, 0.9, _lang(bare), negated))
    return frames


# Words that say "here" or "there" in these languages only (folded), and something else in others.
_PLACE_WORD_LANGUAGES = {"hier": frozenset({"de", "nl"}), "la": frozenset({"fr", "pt"})}
# The Turkish copula after a vowel, folded: "-yım/-yim/-yum/-yüm" (I am), "-yız/-yiz/-yuz/-yüz" (we are).
_TURKISH_I_AM = ("yim", "yum", "yiz", "yuz")
_TURKISH_INFINITIVE = ("mak", "mek")


def _written_past(a: Analysis, index: int) -> bool:
    """Whether the word at `index` is written as a past that folding hides: a final accented vowel
    on a talk verb ("hablé", "conversé": Spanish, I talked; "parlé": French, talked; "parlò":
    Italian, talked), where the unaccented word is a request ("hable con", "parle avec")."""
    token = a.tokens[index]
    return a.raw[token.start : token.end].lower().endswith(("é", "ò"))


def _own_sentence(a: Analysis, first: int, last: int) -> bool:
    """Whether words ``first..last`` make a sentence by themselves: nothing but spaces, emoji or
    closing marks before them since the last sentence, and a full stop or "!" right after."""
    before = a.raw[: a.tokens[first].start].rstrip()
    after = a.raw[a.tokens[last].end :].lstrip()
    opens = not before or before[-1] in ".!?\n"
    return opens and (after[:1] in {".", "!"} or after.startswith("\n")) and not after.startswith("...")


def _runs_on(a: Analysis, index: int) -> bool:
    """Whether the clause of word `index` goes on after it."""
    return index + 1 < len(a.words) and a.tokens[index + 1].clause == a.tokens[index].clause


def _a_helper(a: Analysis, noun: Match) -> bool:
    """A pronoun described by what it can do: "someone who knows the setup", "somebody on your end
    who could pick this up", "alguien que pueda ayudarme", "someone I could talk to"."""
    clause = a.tokens[noun.first].clause
    following = a.tokens[noun.last + 1 : noun.last + 8]
    # "jemanden, der sich das ansehen könnte", "iemand, die me kan bellen": a relative clause set
    # off by a comma goes on describing the pronoun.
    if following and following[0].clause != clause and following[0].text in _RELATIVE_AFTER_COMMA:
        clause = following[0].clause
    after = [t.text for t in following if t.clause == clause]
    return any(
        (word in _RELATIVE_AFTER_COMMA or word in lexicon.SUBJECT_PRONOUNS)
        and bool(set(after[i + 1 : len(after) if word in _VERB_LAST else i + 3]) & lexicon.HELPER_VERBS)
        for i, word in enumerate(after)
    )


def _in_the(a: Analysis, cue: str) -> bool:
    """Portuguese "no" is "in the" ("tenho uma loja no insta e queria falar com alguém"); it
    negates nothing there ("não" does)."""
    return cue == "no" and detect_language(a.raw) == "pt"


def _negated_before(a: Analysis, first: int) -> bool:
    """A negation cue in the same clause shortly before token `first` ("no need for anyone to call
    me", "no hace falta q me llamen")."""
    clause = a.tokens[first].clause
    for m in _NEG_BEFORE.find(a.words):
        if m.last < first and first - m.last <= 7 and a.tokens[m.first].clause == clause:
            if _in_the(a, a.words[m.first]) or _polite_negative(a, m):
                continue
            nxt = a.words[m.last + 1] if m.last + 1 < len(a.words) else ""
            if a.words[m.first] in lexicon.INTERJECTION_NO and nxt in lexicon.SUBJECT_PRONOUNS:
                continue
            return True
    return False


def _phrase_frames(a: Analysis) -> list[_Frame]:
    """Requests that need no separate noun: whole request phrases ("who can I speak to", "is anyone
    there?"), call-back requests ("kunnen jullie me terugbellen?"), rejections of the bot ("not a bot
    please", "bitte keinen Bot"), and questions whether it is one ("vc é robô?", "are you a person
    or a bot?"), which are marked as questions: answered, not requests by themselves."""
    words, tokens = a.words, a.tokens
    frames: list[_Frame] = []
    for table, rule in ((_REQUEST, "request phrase"), (_BOT_QUESTION, "asks if a bot")):
        for m in table.find(words):
            # "se capiscono che è un robot": "that it is a bot", said of it, not asked.
            if _previous_word(words, m.first) in _THAT:
                continue
            # "adminnya ada 3 orang": how many they have, not whether one is there.
            if _a_count(words, m.last + 1):
                continue
            # "is this a bot?" names the bot itself, not a third party.
            if not _about_others(a, m.first, m.last, ignore=frozenset(words[m.first : m.last + 1])):
                # "¿eres un bot? pura curiosidad", "bist du ein Bot? nur neugierig": asked in passing.
                idle = table is _BOT_QUESTION and bool(_IDLE_QUESTION.find(words))
                negated = _negated_before(a, m.first) or _negated_after(a, m.last) or idle
                frames.append(
                    _Frame(rule, m.first, m.last, 0.85, _lang(m), negated, question=table is _BOT_QUESTION)
                )
    # "who handles billing?", "chi si occupa delle fatture?": at the start of a sentence or after a
    # talk verb; not "the guy who handles our billing", "can the tool decide who handles each chat?".
    handled = list(_WHO_HANDLES.find(words))
    # The talk and connect verbs are looked up once for all the matches, and only when there are some.
    verb_ends = [v.last for v in (*_TALK.find(words), *_CONNECT.find(words))] if handled else []
    for m in handled:
        lead = [i for i in range(m.first) if tokens[i].clause == tokens[m.first].clause]
        opens = all(words[i] in lexicon.BARE_FILLER or words[i] in lexicon.GREETING_FILLER for i in lead)
        # "vorrei parlare con chi si occupa delle fatture": talking to that person.
        opens = opens or any(
            0 < m.first - end <= 2 and not set(words[end + 1 : m.first]) & lexicon.ABOUT_WORDS
            for end in verb_ends
        )
        if opens and not _about_others(a, m.first, m.last):
            frames.append(_Frame("who handles", m.first, m.last, 0.85, _lang(m), _negated_before(a, m.first)))
    for m in _CALLBACK.find(words):
        before = set(words[max(0, m.first - 2) : m.first])
        nxt = words[m.last + 1] if m.last + 1 < len(words) else ""
        # ("can i get a quick call?": the customer gets the call.)
        if (before & _SELF_CALL and words[m.first] not in _HAVE) or nxt in {"you", "u", "ya", "te", "vous"}:
            continue
        # "je m'appelle Amélie": a name given, not "call me".
        if tuple(words[m.first : m.last + 1]) == ("m", "appelle") and m.first and words[m.first - 1] == "je":
            continue
        if not _about_others(a, m.first, m.last):
            # "Ein Rückruf ist nicht nötig": a negation after it too.
            frames.append(_Frame("call back", m.first, m.last, 0.85, _lang(m), _negated(a, m.first, m.last)))
    for pattern in _NAMED_PERSON:
        for named in pattern.finditer(a.raw):
            inside = a.within(named.start(), named.end())
            if inside:
                negated = _negated_before(a, inside[0])
                frames.append(_Frame("named person there", inside[0], inside[-1], 0.85, None, negated))
    question = "?" in a.raw or "؟" in a.raw
    for bot in _BOT.find(words):
        clause = tokens[bot.first].clause
        others = {t.text for t in tokens if t.clause == clause} - set(words[bot.first : bot.last + 1])
        if others & (lexicon.THIRD_PARTY - {"bot", "bots", "chatbot"}):
            continue
        following = tokens[bot.last + 1] if bot.last + 1 < len(tokens) else None
        ends_clause = following is None or following.clause != clause or following.text in lexicon.BARE_FILLER
        # "stop the bot and put a person on": a rejection may go on with "and".
        ends_rejection = ends_clause or (following is not None and following.text in _AND)
        rejected = any(
            m.last < bot.first and bot.first - m.last <= 4 and tokens[m.first].clause == clause
            for m in [*_BOT_REJECTION.find(words), *_NEG_BEFORE.find(words)]
        ) or any(
            0 < m.first - bot.last <= 2 and tokens[m.first].clause == clause for m in _NEG_AFTER.find(words)
        )
        # "I'm not a bot" is about the customer; "our own staff will do the replying, not a bot" is
        # about who answers the customer's own customers.
        about_self = any(
            m.last < bot.first and tokens[m.first].clause == clause for m in _SELF.find(words)
        ) or any(
            m.last < bot.first and _one_sentence(a, m.first, bot.first)
            for m in _THEIR_SIDE.find(words, gap=1)
        )
        if rejected and ends_rejection and not about_self:
            frames.append(_Frame("rejects the bot", bot.first, bot.last, 0.85, _lang(bot), False))
            continue
        previous = _previous_word(words, bot.first)
        # "or is it bot only?" asks about the product, not whether a person is there.
        product = following is not None and following.text in lexicon.ONLY_WORDS
        if (
            question
            and ends_clause
            and previous in lexicon.BOT_IDENTITY
            and not product
            and _asked_in_clause(a, bot.last)
        ):
            # "are you a bot? not that it matters", "¿eres un bot? pura curiosidad": asked in passing.
            idle = bool(_IDLE_QUESTION.find(words))
            frames.append(_Frame("asks if a bot", bot.first, bot.last, 0.8, _lang(bot), idle, question=True))
        elif previous in lexicon.BOT_IDENTITY and _or_a_person(words, following, bot.last + 2):
            # "is this a bot or is someone actually reading these", "c un robot ou y a qqn de vrai":
            # whether someone is there, asked with or without a question mark, is a request; "are
            # you a bot or a person?" asks what the bot is.
            rule, identity = "asks if a bot or a person", not _someone_after(words, bot.last + 2)
            frames.append(_Frame(rule, bot.first, bot.last, 0.85, _lang(bot), False, question=identity))
        elif question and ends_clause and _a_person_or(a, bot.first):
            # "gibts bei euch auch echte Leute oder nur den Bot?", "is it real people or just a bot?"
            # ask for people; "¿eres una persona o un bot?" asks what the bot is.
            rule, identity = "asks if a person or a bot", _you_a_person(a, bot.first)
            frames.append(_Frame(rule, bot.first, bot.last, 0.85, _lang(bot), False, question=identity))
    return frames


def _asked_in_clause(a: Analysis, index: int) -> bool:
    """Whether the clause of token `index` ends with a question mark ("are you a bot?"), not only
    a later clause ("no human needed, bot hi theek hai. multiple users kar sakte hain kya?")."""
    tokens = a.tokens
    clause = tokens[index].clause
    following = next((t for t in tokens[index + 1 :] if t.clause != clause), None)
    end = following.start if following is not None else len(a.raw)
    return any(mark in a.raw[tokens[index].end : end] for mark in "?؟")


def _or_a_person(words: Sequence[str], following: Token | None, start: int) -> bool:
    """Whether the bot word is followed by "or" and then, in the words after, a person ("someone",
    "a human", "de vrai")."""
    if following is None or following.text not in lexicon.OR_WORDS:
        return False
    return any(m.first >= start for table in (_SOMEONE, _HUMAN, _REAL) for m in table.find(words))


def _someone_after(words: Sequence[str], start: int) -> bool:
    """Whether a "someone" word ("someone", "qqn", "alguien") comes from `start` on: whether a
    person is there, not what the bot is."""
    return any(m.first >= start for m in _SOMEONE.find(words))


def _you_a_person(a: Analysis, bot: int) -> bool:
    """ "¿eres una persona o un bot?", "are you a human or a bot": the clause before the bot word
    asks what "you" are (a word of the bot's identity, then a single person), not whether people
    are there ("gibts echte Leute oder nur den Bot?")."""
    words, tokens = a.words, a.tokens
    clause = tokens[bot].clause
    before = [i for i in range(bot) if tokens[i].clause == clause]
    if not before or words[before[0]] not in lexicon.BOT_IDENTITY:
        return False
    return not any(words[i] in _PEOPLE for i in before) and not _SOMEONE.find(words[before[0] : bot])


# "real people", "echte Leute": people who may be there, not what "you" are.
_PEOPLE = frozenset(
    {"people", "ppl", "leute", "gente", "persone", "personnes", "gens", "mensen", "orang", "log", "ناس"}
)


def _a_person_or(a: Analysis, bot: int) -> bool:
    """Whether "or" comes right before the bot word (articles and "only" aside) and a person ("real
    people", "a human", "someone real") shortly before the "or", in the same clause, not about
    others ("can my customers reach a human or a bot?")."""
    words, tokens = a.words, a.tokens
    j = bot - 1
    while j >= 0 and (words[j] in _DETERMINERS or words[j] in lexicon.ONLY_WORDS):
        j -= 1
    if j < 1 or words[j] not in lexicon.OR_WORDS:
        return False
    people = [n for n in _nouns(a) if n.phrase.tag.startswith("human")]
    return any(
        0 < j - n.last <= 2
        and tokens[n.first].clause == tokens[j].clause
        and not _plural_staff(a, n)
        and not _about_others(a, n.first, j, ignore=frozenset({words[bot]}))
        for n in people
    )


_OF = frozenset(
    {"of", "di", "de", "del", "della", "dei", "degli", "delle", "des", "du", "do", "dos", "van", "von"}
)
_STAFF_PLURALS = frozenset({"agents", "agentes", "agenten", "reps", "operators", "operatori", "operadores"})
# Articles (the lexicon's) and the German and Italian ones it leaves out, and "just": what may sit
# between "or" and the bot word ("oder nur den Bot", "or just a bot").
_DETERMINERS = lexicon.ARTICLES | lexicon.DETERMINERS | {"just"}


def _plural_staff(a: Analysis, noun: Match) -> bool:
    """ "human agents or bots": a feature of the product, not a person to talk to."""
    following = a.words[noun.last + 1] if noun.last + 1 < len(a.words) else ""
    return a.words[noun.last] in _STAFF_PLURALS or following in _STAFF_PLURALS


def _signal(text: str, frame: _Frame, kind: SignalKind) -> Signal:
    a = analyse(text)
    return Signal(
        kind=kind,
        score=frame.score,
        evidence=a.span(frame.first, frame.last),
        rule=frame.rule,
        language=frame.language,
    )


# Long words of the request phrases (calling back, contacting, talking, handing over), for one
# slip in a long word the phrases would otherwise miss ("können Sie mich zurückrufn").
_LONG_REQUEST_WORDS = sorted(
    {
        word
        for table in (_CALLBACK, _CONTACT, _TALK, _CONNECT)
        for phrase in table.phrases
        for slot in phrase.slots
        for word in slot.exact
        if len(word) >= 8 and word.isalpha()
    }
)
_WORD = re.compile(r"\w+")


def _mended(text: str) -> str | None:
    """`text` with each long word that no lexicon knows, one letter off a long request word (same
    first letter), written as that word; None when there is none to mend."""
    changed = False

    def mend(found: re.Match[str]) -> str:
        nonlocal changed
        word = fold(found.group(0))
        if len(word) < 8 or not word.isalpha() or is_known_word(word):  # known includes _OWN_WORDS
            return found.group(0)
        best = process.extractOne(word, _LONG_REQUEST_WORDS, scorer=Levenshtein.distance, score_cutoff=1)
        if best is None or best[0][0] != word[0]:
            return found.group(0)
        changed = True
        return str(best[0])

    mended = _WORD.sub(mend, text)
    return mended if changed else None


_RETRACTIONS = PhraseSet.of(lexicon.RETRACTIONS)


def _taken_back(text: str, last: int) -> bool:
    """Whether the customer takes the request back after it ("can you call me? eh gak usah deh,
    chat aja", "ia pedir um atendente mas deixa pra lá")."""
    return any(m.first > last for m in _RETRACTIONS.find(analyse(text).words))


def detect_explicit_request(text: str) -> Signal | None:
    """A request to talk to a human, or ``None`` (also when the only request is negated, and when the
    customer only asks whether this is a bot: see `asks_if_bot`). A long request word typed with one
    slip is read as meant ("zurückrufn")."""
    positive = [f for f in _frames(text) if not f.negated and not f.question]
    if not positive:
        mended = _mended(text)
        if mended is None:
            return None
        positive = [f for f in _frames(mended) if not f.negated and not f.question]
        if not positive:
            return None
        text = mended
    if _taken_back(text, max(f.last for f in positive)):
        return None
    best = max(positive, key=lambda f: f.score)
    return _signal(text, best, SignalKind.EXPLICIT_REQUEST)


def detect_negated_request(text: str) -> Signal | None:
    """A request for a human that is explicitly declined ("no need for an agent"), or ``None``.

    Also catches a declined transfer with no noun ("não precisa me transferir") and a declined
    person with no verb ("non serve un operatore").
    """
    negated = [f for f in _frames(text) if f.negated and not f.question]
    if negated:
        return _signal(text, max(negated, key=lambda f: f.score), SignalKind.NEGATED_REQUEST)
    a = analyse(text)
    people = [n for n in _nouns(a) if not n.phrase.tag.startswith("department")]
    for verb in [*_CONNECT.find(a.words), *_TALK.find(a.words), *people]:
        if _negated(a, verb.first, verb.last):
            return Signal(
                kind=SignalKind.NEGATED_REQUEST,
                score=0.7,
                evidence=a.span(verb.first, verb.last),
                rule="negated " + verb.phrase.tag.split(":", 1)[0],
                language=_lang(verb),
            )
    return None


def asks_if_bot(text: str) -> bool:
    """Whether the customer asks if they are talking to a bot ("are you a bot?", "vc é robô?",
    "¿eres una persona o un bot?") and asks for nothing more: the bot says what it is and offers a
    person. Asked in passing ("not that it matters") or with a request, it is not."""
    frames = _frames(text)
    return any(f.question and not f.negated for f in frames) and not any(
        not f.question and not f.negated for f in frames
    )
