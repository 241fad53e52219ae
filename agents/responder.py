"""Responder: answers basic questions from the knowledge base, in the customer's language.

Offline it matches the question against the knowledge entries (`KnowledgeBase`: the whole
question's similarity, at least the configured threshold, else its topic words); with the model
on, it uses the turn analysis' answer when the model says it can answer from the supplied
knowledge. After `fallbacks_before_handoff` turns in a row it cannot answer, on the same matter,
it hands off as `unresolved` (one turn later when the unanswered questions are about different
things: `_unresolved`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from agents import lexicon
from agents.common import comparable, handoff_request, reply, turn_text
from agents.language import PhraseSet, analyse, content_words
from agents.sentinel.basics import (
    announced_question,
    declines_offer,
    is_acknowledgement,
    is_announcement,
    is_greeting,
    is_pleasantry,
    is_question,
    says_the_answer_failed,
    strip_social,
    will_get_back,
)
from agents.sentinel.detectors import asks_if_bot, detect_negated_request
from orchestrator.core.config import AppConfig, KnowledgeEntry
from orchestrator.core.context import GraphContext
from orchestrator.core.enums import HandoffReason
from orchestrator.core.state import Outgoing, State

# The latest unanswered questions kept in the state (for the handoff): bounded, as the transcript.
OPEN_QUESTIONS_KEPT = 10
AGENT = "responder"
# Kinds that carry no words we can read: answered with "please type" after the first message.
UNREADABLE = {"unsupported", "unknown", "audio", "sticker"}
# Kinds whose content never reached us (Meta's `unsupported`, a type this service does not know).
NOT_DELIVERED = {"unsupported", "unknown"}
# Kinds with no words that are kept for the team, and said so: "Thanks, I've received it".
KEPT = {"image", "video", "document", "location", "contacts"}


@dataclass(frozen=True)
class KnowledgeMatch:
    entry: KnowledgeEntry
    score: float
    question: str
    # "similar": the message is close to one listed question as a whole (fuzzy); "words": the
    # message's content words are the entry's words, whatever the function words around them;
    # "follow-up": a short "and ...?" right after an answer from the entry.
    how: str = "similar"


def asked_parts(text: str) -> list[str]:
    """`text`, and each of its clauses when it has several ("we're a small shop, how much is it?"
    -> also "we're a small shop" and "how much is it"; "no need to call, just tell me the price"):
    context around a question must not drown it."""
    a = analyse(text)
    parts = [text]
    if not a.tokens or a.tokens[-1].clause == 0:
        return parts
    clauses: dict[int, list[int]] = {}
    for i, token in enumerate(a.tokens):
        clauses.setdefault(token.clause, []).append(i)
    parts.extend(a.span(indexes[0], indexes[-1]) for indexes in clauses.values())
    return parts


def _earlier_texts(state: State) -> list[str]:
    """The customer's messages of the turns before this one, without the "ok"s (the sentinel has
    already added this turn's text to `customer_texts`)."""
    return [t for t in state.get("customer_texts", [])[:-1] if not is_acknowledgement(t)]


def _missed_before(state: State, fallbacks: int) -> list[str]:
    """The customer's messages of the turns in a row the bot could not answer before this one."""
    earlier = _earlier_texts(state)
    return earlier[-(fallbacks - 1) :] if fallbacks > 1 else []


def _unresolved(question: str, fallbacks: int, missed: list[str], limit: int, *, again: bool = False) -> bool:
    """Whether this unanswered message ends the bot's attempts. After `limit` misses in a row, when
    it asks what an earlier unanswered message asked: a question with two topic words in common,
    or one and a sign of asking again (`again`: "still", "or not", "??"), or a statement that
    restates the problem (two topic words in common, or one and a word that says it goes on:
    "sigue sin andar, no me llega nada" after "no me llegan las notificaciones"; a bare "still
    stuck" is left to the sentinel, which watches how the customer goes on). Otherwise the bot
    offers a person. After `limit + 1` misses, whatever they were about: two different questions
    the bot cannot answer are not yet a failure to help, a third unanswered message is. A question
    the customer adds as another one ("and can I...", "und gibt es...") goes on with the bot,
    unless it is the third miss in a row on one topic."""
    if fallbacks < limit:
        return False
    if limit == 1:
        return True
    ours = content_words(question)
    shared = max((_shared_topic_words(ours, earlier) for earlier in missed), default=0)
    if is_question(question) and _another_question(question):
        # "and can I export the contacts the same way?": the customer goes on to the next question
        # (a person was offered at the second miss); only a third one on the same topic (two topic
        # words in common: "chats" alone is the product's) ends it.
        return fallbacks > limit and shared >= 2
    if fallbacks > limit:
        return True
    if is_question(question):
        # Asked again in other words: two topic words in common, or one and a sign of asking again
        # ("hello?? how do I link shopify", "ok but does it integrate with shopify or not"); one
        # word alone is a new question on the subject ("how many agents can I add?" after "does it
        # let my agents take over?"), and the bot offers a person instead.
        return shared >= 2 or (shared >= 1 and (again or _asked_again(question)))
    goes_on = any(w in lexicon.WEAK_PROBLEM_WORDS for w in analyse(question).words)
    return shared >= 2 or (shared >= 1 and goes_on and len(ours) >= 2)


def _previous_text(state: State) -> str | None:
    """The customer's message of the last turn before this one that was more than an "ok"."""
    earlier = _earlier_texts(state)
    return earlier[-1] if earlier else None


def _asked_before(state: State, question: str, entry: str) -> int:
    """How many times in a row the customer had asked what this answered question asks: the turn
    before was missed or answered with the same entry, and its message shares a topic word with
    this one ("How do I add my riders as sub users?", then "I want each of my riders to have their
    own login, how?", both answered with the teams entry)."""
    turn = state.get("turn", 0)
    before = _previous_text(state)
    if before is None or not _shared_topic_words(content_words(question), before):
        return 0
    if state.get("answered") == turn - 1 and state.get("answered_entry") == entry:
        return state.get("asked_before", 0) + 1
    return 1 if state.get("fallbacks", 0) > 0 else 0


def _asked_a_third_time(state: State, question: str) -> bool:
    """Whether this unanswered message asks, a third time in a row, what the answer of the turn
    before did not settle: that answer came after an earlier asking (missed, or answered alike), and
    this message shares two topic words with it ("riders own login. how do I do it abeg"). The
    answers did not help; a person does."""
    turn = state.get("turn", 0)
    if state.get("answered") != turn - 1 or state.get("asked_before", 0) < 1:
        return False
    before = _previous_text(state)
    return before is not None and _shared_topic_words(content_words(question), before) >= 2


_ASKED_AGAIN = PhraseSet.of(lexicon.ASKED_AGAIN)


def _asked_again(text: str) -> bool:
    """ "still", "or not", "yes or no", "??": the question is the earlier one, asked again."""
    return "??" in text or "؟؟" in text or bool(_ASKED_AGAIN.find(analyse(text).words))


def _another_question(text: str) -> bool:
    """ "great, and can I export contacts too?", "und gibt es eine Testphase?": a question opened by
    a word that adds it to the one before (after an acknowledgement)."""
    words = analyse(text).words
    announced = announced_question(text)
    for i, word in enumerate(words):
        if word in lexicon.ANOTHER_LEADS:
            # A bare "and ...?" after two misses ("¿Y con Mercado Libre?", "Und lassen sich ...?")
            # is one more thing the bot cannot do, and so is one after a plain "ok" ("ok and where
            # is the data hosted?"); "great, and ...?" is a satisfied customer's ("pô, e com a
            # Nuvemshop??": an interjection is no acknowledgement).
            return any(w in lexicon.ACK_WORDS and w in lexicon.POSITIVE_WORDS for w in words[:i])
        # "alright, last one: ...", "one more question, ...": announced as one more.
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if (word in lexicon.ANOTHER_WORDS and nxt in _ONE_MORE) or (
            word == "one" and nxt in lexicon.COUNT_MORE
        ):
            return True
        if announced is not None and announced <= i + 2:
            return True
        if word not in lexicon.ACK_WORDS and word not in lexicon.ACK_FILLER:
            return False
    return False


_ONE_MORE = frozenset({"one"}) | lexicon.ASK_NOUNS | lexicon.THING_NOUNS


def _shared_topic_words(ours: tuple[str, ...], earlier: str) -> int:
    theirs = content_words(earlier)
    return sum(1 for word in ours if any(same_word(word, other) for other in theirs))


def same_word(a: str, b: str) -> bool:
    """One word in two forms: equal, an inflection ("price"/"prices"/"pricing", "open"/"opening":
    a shared start of four letters or more that leaves at most three letters of the longer word),
    or a typo of a long word ("pasword", "pricign": one edit or swap in seven letters or more;
    "cuenta" and "cuesta" are two words)."""
    if a == b:
        return True
    shortest, longest = sorted((len(a), len(b)))
    if longest - shortest > max(3, longest // 5) or (a[0] != b[0] and shortest < 7):
        return False  # too far apart for either rule
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    if shared >= 4 and shared >= longest - 3:
        return True
    return shortest >= 7 and OSA.normalized_similarity(a, b) >= 0.8


PRICE = "price"
_NOT_PRICED = lexicon.PRICE_QUESTION_NOT | lexicon.TIME_UNITS


def _asks_the_price(words: tuple[str, ...], *, question: bool = False) -> bool:
    """ "how much per seat", "c'est combien par mois", "harganya brp per bulan": a question for a
    price with no word for one; not "how much time", "berapa lama", "how much storage". With
    `question` (the message is one), a verb of costing asks it too ("was kostet die Pro-Version?")."""
    if question and not lexicon.COST_VERBS.isdisjoint(words):
        return True
    for i, word in enumerate(words):
        if word in lexicon.PRICE_QUESTION_WORDS or (word == "much" and i > 0 and words[i - 1] == "how"):
            following = words[i + 1] if i + 1 < len(words) else ""
            if following not in _NOT_PRICED:
                return True
    return False


_MEASURES = lexicon.MEASURE_WORDS | lexicon.TIME_UNITS
_ASKING_HOW = lexicon.QUESTION_WORDS | lexicon.PRICE_QUESTION_WORDS


_FOR = frozenset({"for", "para", "pra", "pour", "fur", "per", "voor", "untuk", "buat"})
_WHICH_ONE = (
    lexicon.ARTICLES
    | lexicon.DETERMINERS
    | lexicon.POSSESSIVES
    | {"this", "that", "these", "those", "each", "every"}
)


def _what_it_is_for(words: tuple[str, ...], said: tuple[str, ...]) -> frozenset[str]:
    """The topic words right after "for" (and an article or a determiner): "a trial for that plan",
    "a trial for the pro plan"."""
    found = set()
    for i, word in enumerate(words):
        if word not in _FOR:
            continue
        j = i + 1
        while j < len(words) and words[j] in _WHICH_ONE:
            j += 1
        # "for the pro plan": the words of the thing meant, up to three.
        for meant in words[j : j + 3]:
            if meant not in said:
                break
            found.add(meant)
    return frozenset(found)


def _measured(words: tuple[str, ...]) -> set[str]:
    """ "how long is the trial", "how many days", "trial kitne din ka hai", "berapa lama", "combien
    de jours": a span asked for right after a question word is what is asked, not the topic."""
    return {
        word
        for i, word in enumerate(words)
        if word in _MEASURES and set(words[max(0, i - 2) : i]) & _ASKING_HOW
    }


_WILL_DO = re.compile(
    r"\bwill\s+(?!you\b|u\b|ya\b|it\b|they\b|there\b|this\b|that\b|we\b|i\b|he\b|she\b|someone\b|anyone\b)",
    re.IGNORECASE,
)


def _thanks_for_it(text: str) -> bool:
    """ "got the brochure, thanks! will go through it with the team", "Passwort zurücksetzen hat
    geklappt, danke euch!", "o teste grátis foi ótimo, a equipe curtiu": thanks or praise with no
    question and no request in it asks for nothing."""
    # "will go through it", "will try again later": "will" with no subject after it is a plan, no
    # question and no request.
    text = _WILL_DO.sub("", text)
    if "?" in text or "؟" in text or is_question(text):
        return False
    words = set(analyse(text).words)
    return bool(words & (lexicon.THANKS_WORDS | lexicon.POSITIVE_WORDS)) and not words & lexicon.REQUEST_MOOD


# Openings of a statement about the customer, the customer as its subject ("I'm the head coach at
# ...", "we run ...", "gonna show my partner tonight"); not "our" or "my" ("our warehouse scanner
# sends duplicate events" is a problem told).
_ABOUT_THEMSELVES = lexicon.WE_WORDS | lexicon.SUBJECT_PRONOUNS | lexicon.SELF_OPENERS


_ASKING = frozenset(
    {"asking", "asked", "pregunto", "preguntando", "perguntando", "demande", "frage", "chiedo"}
)
# ("is" and "are" alone are no question: "we are a small clinic"; "is there" is.)
_ASKING_WORDS = lexicon.ASKING_WORDS - {"is", "are", "there"}
_IS_THERE = {("is", "there"), ("are", "there")}


def _tells_about_themselves(text: str) -> bool:
    """ "I'm the head coach at a small boxing gym", "we run a small NGO for street kids in Pune",
    "gonna show my business partner tonight": a statement about the customer, opening with them,
    that asks nothing (no question word: "i mean is there a way to download all conversations"),
    wishes nothing ("je veux récupérer ma liste") and reports no problem (a problem told is a
    question for us)."""
    if "?" in text or "؟" in text or is_question(text):
        return False
    words = analyse(text).words
    if not 3 <= len(words) <= 16 or words[0] not in _ABOUT_THEMSELVES:
        return False
    if any(pair in _IS_THERE for pair in itertools.pairwise(words)):
        return False
    # ("I'm asking about Zoho Desk specifically" asks.)
    return not set(words) & (
        lexicon.PROBLEM_WORDS
        | lexicon.NEGATORS
        | lexicon.REQUEST_MOOD
        | lexicon.DESIRE_VERBS
        | lexicon.ASK_VERBS
        | lexicon.ASK_NOUNS
        | _ASKING
        | _ASKING_WORDS
    )


_HOW = lexicon.HOW_WORDS
_CHANGE_VERBS = lexicon.CHANGE_VERBS


def _how_to_change(text: str) -> bool:
    """ "cómo cambio a un plan más barato?", "how do I downgrade my plan", "fees reminder ki setting
    kidhar hai": how or where to change something in their account, not what it costs; only an
    entry about changing something answers it."""
    words = analyse(text).words
    if _asks_the_price(words, question=True):
        return False  # "how much does it cost to upgrade?"
    return bool(set(words) & _HOW) and bool(set(words) & _CHANGE_VERBS)


def _sets_up(text: str) -> bool:
    """ "how do I set up our hours", "wie stelle ich unsere Öffnungszeiten ein", "como configuro el
    horario": the message asks how to set something up in the product."""
    return bool(set(analyse(text).words) & (lexicon.BUILD_VERBS | lexicon.SET_VERBS))


_AUTO_REPLIES = PhraseSet.of(lexicon.AUTO_REPLY_FEATURES)


def _sets_up_their_own(text: str) -> bool:
    """ "how do I set our own opening hours?", "como configuro el horario de MI negocio", "كيف احدد
    اوقات دوام محلنا": setting up something of the customer's business (ours, or my business),
    not asking for a fact of ours ("my password" is theirs with us: not this); or a question about
    the product's replies when they are closed ("auto reply di luar jam kerja gimana?")."""
    words = analyse(text).words
    if _AUTO_REPLIES.find(words):
        return True
    if not _sets_up(text):
        return False
    if set(words) & lexicon.OUR_WORDS:
        return True
    if any(w.endswith("نا") and len(w) > 3 for w in words):  # Arabic "our": محلنا, شركتنا
        return True
    return any(
        w in lexicon.BUSINESS_NOUNS and i > 0 and words[i - 1] in lexicon.POSSESSIVES - lexicon.ABOUT_US
        for i, w in enumerate(words)
    )


class KnowledgeBase:
    """Index of the configured knowledge entries, answering a message with the entry it asks for.

    Two ways to match, the first that finds one wins:
    - *similar*: the message as a whole against each listed question (rapidfuzz `token_set_ratio`
      over folded text, at least `threshold`);
    - *words*: the topic words of the message against each entry's ("what time do you open?" has
      the word of "when are you open"): every topic word of one listed question is in the message,
      or more than half the message's topic words (or one clause's) are the entry's. A tie
      between two entries is no answer.
    """

    def __init__(self, entries: list[KnowledgeEntry], threshold: float = 85) -> None:
        self.threshold = threshold
        self._choices: list[str] = []
        self._owners: list[KnowledgeEntry] = []
        # Listed questions made of function words only ("kitne ka hai"): any message holding them
        # is a subset of them, so they match as a whole only a message with no topic of its own.
        self._wordless: set[int] = set()
        self._entries = list(entries)
        self._questions: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        # How much each topic word says about an entry: 1 for a word that is a listed question on
        # its own ("prices") or that several of its questions share ("password"), 1/2 for one that
        # only asks it alongside another ("time" of "what time do you close"): the sum of 1/n over
        # the entry's questions with n topic words that hold it, at most 1.
        self._weights: dict[str, dict[str, float]] = {}
        for entry in entries:
            weights = self._weights.setdefault(entry.id, {})
            questions = self._questions.setdefault(entry.id, [])
            for q in entry.questions:
                keys = content_words(q)
                if not keys:
                    self._wordless.add(len(self._choices))
                self._choices.append(comparable(q))
                self._owners.append(entry)
                if keys:
                    questions.append((q, keys))
                    for key in keys:
                        weights[key] = min(1.0, weights.get(key, 0.0) + 1 / len(keys))
        self._vocabulary = frozenset(word for weights in self._weights.values() for word in weights)
        self._how_tos = frozenset(e.id for e in entries if any(_sets_up(q) for q in e.questions))
        self._changes = frozenset(
            e.id for e in entries if any(_CHANGE_VERBS & set(analyse(q).words) for q in e.questions)
        )
        self._seen: dict[str, frozenset[str]] = {}

    def best(self, text: str) -> KnowledgeMatch | None:
        """The entry `text` asks for, or None when no entry matches well enough. A question about
        setting up something of the customer's business in the product ("how do I configure our own
        opening hours?") is answered only by an entry that is itself about setting something up
        ("how do I add users"), not by one that states a fact of ours ("our support hours")."""
        if _thanks_for_it(text):
            return None
        match = self.similar(text) or self._by_words(text)
        if match is not None and _sets_up_their_own(text) and match.entry.id not in self._how_tos:
            return None
        if match is not None and _how_to_change(text) and match.entry.id not in self._changes:
            return None
        return match

    def follow_up(self, text: str, entry_id: str | None) -> KnowledgeMatch | None:
        """ "and the pro?" right after the pricing answer, "y los sábados?" after the hours: a short
        question opening with "and" asks more of the entry just answered (given as `entry_id`)."""
        words = analyse(text).words
        if entry_id is None or "?" not in text or not 2 <= len(words) <= 5:
            return None
        if words[0] not in lexicon.FOLLOW_UP_OPENERS:
            return None
        entry = next((e for e in self._entries if e.id == entry_id), None)
        return None if entry is None else KnowledgeMatch(entry, 100.0, text, how="follow-up")

    def similar(self, text: str) -> KnowledgeMatch | None:
        """The listed question closest to `text` as a whole, when at least `threshold` close."""
        query = comparable(text)
        if not query or not self._choices:
            return None
        found = process.extractOne(query, self._choices, scorer=fuzz.token_set_ratio)
        if found is None:
            return None
        _choice, score, index = found
        # token_set_ratio is 100 for any subset; demand real overlap for very short queries: one
        # word must be the entry's question or most of one ("prices", not the "tak" of "kab tak
        # open" or the "ne" of "fiyat ne kadar").
        entry = self._owners[index]
        if index in self._wordless and content_words(text):
            return None  # "trial kitne din ka hai": its topic words decide, not "kitne ka hai"
        if len(query.split()) < 2:
            words = content_words(text)
            if score < 100 or not words or self._weights[entry.id].get(words[0], 0.0) <= 0.5:
                return None
        elif score < self.threshold:
            return None
        return KnowledgeMatch(entry, float(score), self._choices[index])

    def _by_words(self, text: str) -> KnowledgeMatch | None:
        ranked: list[tuple[tuple[int, float, int], KnowledgeMatch]] = []
        for part in asked_parts(text):
            ranked.extend(self._ranked_by_words(part, whole=part == text))
        if not ranked:
            return None
        ranked.sort(key=lambda r: r[0], reverse=True)
        best = ranked[0]
        if any(rank == best[0] and match.entry is not best[1].entry for rank, match in ranked[1:]):
            return None  # two entries fit as well: answering the wrong one is worse than a fallback
        return best[1]

    def _ranked_by_words(
        self, text: str, *, whole: bool = True, which: frozenset[str] = frozenset()
    ) -> list[tuple[tuple[int, float, int], KnowledgeMatch]]:
        said = tuple(w for w in content_words(text) if w not in which)
        words = analyse(text).words
        if _asks_the_price(words, question=is_question(text)):
            # "hoeveel kost het per maand", "berapa per admin?": the question word asks the price
            # whatever else is said, and "per month", "per admin" are its unit, no topic of their own.
            units = {words[i + 1] for i in range(len(words) - 1) if words[i] in lexicon.PER_WORDS}
            said = tuple(w for w in said if w not in units and w not in lexicon.PRICE_QUESTION_WORDS)
            if not any(same_word(w, PRICE) for w in said):
                said = (*said, PRICE)
        measured = _measured(words)
        if measured and any(w not in measured for w in said):
            said = tuple(w for w in said if w not in measured)
        ranked: list[tuple[tuple[int, float, int], KnowledgeMatch]] = []
        if not said:
            return ranked
        hits = [self._hits(word) for word in said]
        heard = frozenset().union(*hits)
        asking = whole or is_question(text)
        if not heard:
            return ranked
        for entry in self._entries:
            weights = self._weights[entry.id]
            questions = self._questions[entry.id]
            found = [min(1.0, sum(weights.get(v, 0.0) for v in hit)) for hit in hits]
            if not any(found):
                continue
            if (
                not asking
                and len(said) == 1
                and not any(len(k) == 1 and set(k) <= hits[0] for _q, k in questions)
            ):
                # "woocommerce. orders. inbox.": one word in a clause that asks nothing is no question
                # for an entry, unless it is one of the entry's questions by itself ("prices").
                continue
            covered = [(q, keys) for q, keys in questions if len(keys) > 1 and heard.issuperset(keys)]
            share = sum(found) / len(said)
            if not covered and share <= 0.5:
                continue
            question = (
                max(covered, key=lambda c: len(c[1]))[0]
                if covered
                else " ".join(w for w, f in zip(said, found, strict=True) if f)
            )
            rank = (1 if covered else 0, share, sum(1 for f in found if f))
            ranked.append((rank, KnowledgeMatch(entry, round(100 * share, 1), question, how="words")))
        if not ranked and not which:
            # "do you have a trial for that plan too?": when the words together fit no entry, the
            # one after "for" says which thing is meant, and what is asked is the rest.
            which = _what_it_is_for(words, said)
            if which and any(w not in which for w in said):
                return self._ranked_by_words(text, whole=whole, which=which)
        return ranked

    def _hits(self, word: str) -> frozenset[str]:
        """The knowledge base's words `word` is a form of (kept for the words customers repeat)."""
        found = self._seen.get(word)
        if found is None:
            if len(self._seen) >= 20_000:
                self._seen.clear()
            found = self._seen[word] = frozenset(v for v in self._vocabulary if same_word(word, v))
        return found

    def as_text(self, config: AppConfig, language: str) -> str:
        seen: dict[str, str] = {}
        for entry in self._owners:
            seen[entry.id] = (
                f"- {entry.id}: Q: {entry.questions[0]} A: {config.localized(entry.answer, language)}"
            )
        return "\n".join(seen.values())


def knowledge_of(ctx: GraphContext) -> KnowledgeBase:
    if ctx.knowledge is None:
        ctx.knowledge = KnowledgeBase(ctx.config.knowledge, ctx.config.agents.knowledge_threshold)
    kb: KnowledgeBase = ctx.knowledge
    return kb


def menu_message(config: AppConfig, language: str) -> Outgoing:
    return {
        "kind": "buttons",
        "text": config.localized(config.menu.body, language),
        "buttons": [{"id": b.id, "title": b.title} for b in config.menu.buttons],
        "agent": "triage",
    }


async def responder(state: State, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    ctx = runtime.context
    config = ctx.config
    language = state.get("language") or config.default_language
    text = turn_text(state)
    out: list[Outgoing] = list(state.get("outgoing", []))
    if not text:
        incoming = state.get("incoming", [])
        if not state.get("menu_shown"):
            # A first message with no words (a photo, a location, a contact card, an order, a
            # reaction, a voice note): acknowledge it and offer the menu, never leave silence. One
            # whose content Meta did not deliver (a type it does not support) is not "kept": the
            # customer is asked to type instead.
            unread = incoming and all(m["kind"] in NOT_DELIVERED for m in incoming)
            key = "unsupported_message" if unread else "media_received"
            out.append(reply(config.message(key, language), agent=AGENT))
            out.append(menu_message(config, language))
            return {"outgoing": out, "menu_shown": True}
        if any(m["kind"] in UNREADABLE for m in incoming):
            out.append(reply(config.message("unsupported_message", language), agent=AGENT))
        elif any(m["kind"] in KEPT for m in incoming):
            # A photo, a file, a place or a contact card with no words, later on: the customer is
            # told it arrived (a reaction needs no answer).
            out.append(reply(config.message("media_received", language), agent=AGENT))
        return {"outgoing": out}
    if is_acknowledgement(text):
        # An "ok" answers nothing: the questions left unanswered before it still count ("Where is
        # the data stored?", "ok", "Do you have a DPA?", "And is there SSO?" is three misses).
        out.append(reply(config.message("acknowledgement", language), agent=AGENT))
        return {"outgoing": out}
    if asks_if_bot(text):
        # "are you a bot?": said honestly, with the offer of a person; a "yes" next brings one in.
        out.append(reply(config.message("bot_identity", language), agent=AGENT))
        return {"outgoing": out, "offered_person": state.get("turn", 0)}
    analysis = state.get("analysis")
    events = list(state.get("events", []))
    if analysis and analysis.get("can_answer") and analysis.get("answer"):
        confidence = float(analysis.get("answer_confidence") or 0.0)
        if confidence >= config.agents.answer_min_confidence:
            out.append(reply(str(analysis["answer"]), agent=AGENT))
            return {
                "outgoing": out,
                "fallbacks": 0,
                "answered": state.get("turn", 0),
                "answered_entry": None,
                "asked_before": 0,
            }
        # A guess is worse than "I don't know": fall back to the knowledge base, then to a person.
        events.append(
            {
                "agent": AGENT,
                "description": f"model answer withheld: confidence {confidence:.2f} is below "
                f"{config.agents.answer_min_confidence:.2f}",
                "details": {"answer": analysis["answer"], "confidence": confidence},
            }
        )
        analysis = None
    if state.get("answered") == state.get("turn", 0) - 1 and says_the_answer_failed(text):
        # "did that. twice. still no email", right after an answer: the bot has nothing more on
        # that matter ("I don't know" or the same answer again would not help). It says so and
        # offers a person; a "yes" brings one in, and the customer may also go on with the bot.
        out.append(reply(config.message("answer_failed", language), agent=AGENT))
        offered = {"agent": AGENT, "description": "the answer did not help; a person offered"}
        return {"outgoing": out, "offered_person": state.get("turn", 0), "events": [*events, offered]}
    if is_greeting(text):
        # A greeting is answered with the welcome; it is never an unanswered question.
        if state.get("menu_shown"):
            out.append(reply(config.message("greeting", language), agent=AGENT))
            return {"outgoing": out, "events": events}
        out.append(menu_message(config, language))
        return {"outgoing": out, "menu_shown": True, "events": events}
    # "Hi there, what are your prices?": the question is what follows the greeting.
    question = strip_social(text)
    kb = knowledge_of(ctx)
    match = kb.best(question) if analysis is None else None
    if match is None and analysis is None and state.get("answered") == state.get("turn", 0) - 1:
        match = kb.follow_up(question, state.get("answered_entry"))
    if match is not None:
        out.append(reply(config.localized(match.entry.answer, language), agent=AGENT))
        asked_before = _asked_before(state, question, match.entry.id)
        event = {
            "agent": AGENT,
            "description": f"answered from knowledge entry {match.entry.id}",
            "details": {
                "entry": match.entry.id,
                "score": match.score,
                "matched": match.question,
                "how": match.how,
            },
        }
        return {
            "outgoing": out,
            "fallbacks": 0,
            "answered": state.get("turn", 0),
            "answered_entry": match.entry.id,
            "asked_before": asked_before,
            "events": [*events, event],
        }
    if is_pleasantry(question):
        out.append(reply(config.message("acknowledgement", language), agent=AGENT))
        return {"outgoing": out, "fallbacks": 0, "events": events}
    if will_get_back(question):
        # "I'll talk to my partner and get back to you": no question left unanswered.
        out.append(reply(config.message("see_you", language), agent=AGENT))
        return {"outgoing": out, "fallbacks": 0, "events": events}
    if state.get("offered_person") == state.get("turn", 0) - 1 and declines_offer(question):
        # "ok no problem, I'll check with our IT team. thanks": the person declined, nothing asked.
        out.append(reply(config.message("acknowledgement", language), agent=AGENT))
        return {"outgoing": out, "fallbacks": 0, "events": events}
    if _tells_about_themselves(question):
        # "we run a small NGO for street kids in Pune", "gonna show my business partner tonight":
        # who they are or what they will do, with no question and no problem in it, is no miss.
        out.append(reply(config.message("noted", language), agent=AGENT))
        if not state.get("menu_shown"):
            out.append(menu_message(config, language))
        return {"outgoing": out, "menu_shown": True, "events": events}
    if is_announcement(text):
        # "One more question about my invoice": asked for nothing yet, so nothing went unanswered.
        out.append(reply(config.message("go_ahead", language), agent=AGENT))
        return {"outgoing": out, "events": events}
    fallbacks = state.get("fallbacks", 0) + 1
    missed = _missed_before(state, fallbacks)
    # "hello?? how do I link shopify": the greeting goes, its "??" still says it is asked again.
    again = _asked_again(text)
    # "don't need a human, I just need the link to the app": no person is brought in against the
    # customer's word; the miss still counts, and a request later brings one.
    declined = detect_negated_request(text) is not None
    third = not declined and _asked_a_third_time(state, question)
    if third or (
        not declined
        and _unresolved(question, fallbacks, missed, config.agents.fallbacks_before_handoff, again=again)
    ):
        # (The context log says why: misses in a row, or one question asked a third time.)
        rule = "asked a third time" if third else f"{fallbacks} fallbacks"
        request = handoff_request(
            reason=HandoffReason.UNRESOLVED,
            state=state,
            signals=[{"kind": "fallback", "score": 1.0, "evidence": text, "rule": rule}],
        )
        return {"handoff": request, "fallbacks": fallbacks, "events": events}
    # The second miss in a row offers a person; the customer may still go on with the bot.
    offer = fallbacks >= config.agents.fallbacks_before_handoff and not declined
    out.append(reply(config.message("fallback_offer" if offer else "fallback", language), agent=AGENT))
    if not state.get("menu_shown"):
        out.append(menu_message(config, language))
    open_questions = (
        [*state.get("open_questions", []), text][-OPEN_QUESTIONS_KEPT:]
        if "?" in text
        else state.get("open_questions", [])
    )
    return {
        "outgoing": out,
        "fallbacks": fallbacks,
        "menu_shown": True,
        "open_questions": open_questions,
        "events": events,
        **({"offered_person": state.get("turn", 0)} if offer else {}),
    }
