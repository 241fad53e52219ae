"""Repeated unresolved questions, offline: the same question asked again (rapidfuzz), not counting
acknowledgements, greetings and other trivial messages."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rapidfuzz import fuzz, process

from agents import lexicon
from agents.language import analyse
from agents.sentinel.basics import is_acknowledgement, is_greeting
from agents.sentinel.signals import Signal, SignalKind

__all__ = ["detect_loop"]


# --------------------------------------------------------------------------------------------------
# Loops
# --------------------------------------------------------------------------------------------------


# "add another user" / "add a second user" / "add an extra user": one word for them all.
_ANOTHER = frozenset(
    {"another", "second", "extra", "additional", "new", "otro", "otra", "outro", "outra", "autre"}
)


@lru_cache(maxsize=2048)
def _loop_key(text: str) -> tuple[str, ...]:
    """Topic words of a message, for comparing repeated questions."""
    return tuple(
        "another" if w in _ANOTHER else w for w in analyse(text).words if w not in lexicon.LOOP_STOPWORDS
    )


@lru_cache(maxsize=2048)
def _loop_text(text: str) -> str:
    return " ".join(analyse(text).words)


@lru_cache(maxsize=2048)
def _trivial(text: str) -> bool:
    """Greetings, thanks, one-word answers: repeating them is not a loop."""
    words = analyse(text).words
    return (
        len(words) < 2
        or is_acknowledgement(text)
        or is_greeting(text)
        or all(w in lexicon.BARE_FILLER for w in words)
    )


def _same_stem(a: str, b: str) -> bool:
    """One word is the other with an ending added ("barunya" / "baru", "invoices" / "invoice")."""
    if len(a) <= len(b):
        return len(a) >= 4 and b.startswith(a)
    return len(b) >= 4 and a.startswith(b)


def _same_question(a: str, b: str, similarity: float) -> float:
    """Similarity 0..100 of two messages: whole-text ratio, or one's topic words inside the other's."""
    ka, kb = _loop_key(a), _loop_key(b)
    if not ka or not kb:
        return 0.0
    whole = fuzz.ratio(_loop_text(a), _loop_text(b))
    if whole >= similarity:
        return whole
    short, long_ = (ka, kb) if len(ka) <= len(kb) else (kb, ka)
    # "is there a trial?" then "where do I sign up for the trial?": a later message that adds a
    # question of its own to the earlier topic is a follow-up, not the same question again.
    if short is ka and len(long_) > len(short) + 1:
        return whole
    pool = set(long_)
    # Every word of the shorter one in the longer (the first one missing settles it).
    covered = len(long_) <= 3 * len(short) + 1 and all(
        w in pool
        or process.extractOne(w, long_, scorer=fuzz.ratio, score_cutoff=80)
        or (len(w) >= 4 and any(_same_stem(w, v) for v in long_))
        for w in short
    )
    if covered:
        return max(whole, similarity)
    # "How do I add a second user to my account?" then "How can I add another user to the account,
    # please?": the same topic in other words, three topic words or more shared and most of them.
    topic_short = [w for w in short if w not in lexicon.QUESTION_WORDS]
    topic_long = [w for w in long_ if w not in lexicon.QUESTION_WORDS]
    # Worth counting only when every short word shared would reach it (the count is the costly part).
    if len(topic_short) < 3 or len(topic_short) < 0.6 * len(topic_long):
        return whole
    shared = sum(1 for w in topic_short if w in topic_long or any(_same_stem(w, v) for v in topic_long))
    if shared >= 3 and shared / (len(topic_short) + len(topic_long) - shared) >= 0.6:
        return max(whole, similarity)
    return whole


def detect_loop(
    previous: Sequence[str], text: str, *, similarity: float = 85.0, repeats: int = 2
) -> Signal | None:
    """The customer asks the same thing again: `text` plus similar `previous` texts >= `repeats`.

    "how do I reset my password" / "HOW DO I RESET MY PASSWORD" and "¿dónde está mi factura?" /
    "mi factura??" are the same question (case, accents, punctuation and filler words are ignored,
    and a shorter message whose topic words all appear in the earlier one counts as a repeat).
    Greetings, thanks and one-word answers never loop.
    """
    if _trivial(text):
        return None
    scores = [_same_question(p, text, similarity) for p in previous if p and not _trivial(p)]
    hits = [s for s in scores if s >= similarity]
    if len(hits) + 1 < repeats:
        return None
    return Signal(
        kind=SignalKind.LOOP,
        score=round(min(1.0, max(hits, default=similarity) / 100.0), 3),
        evidence=text.strip(),
        rule=f"asked {len(hits) + 1} times (similarity >= {similarity:g})",
        language=None,
    )
