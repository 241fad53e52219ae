"""Small helpers shared by the agent nodes: text of a turn, building replies and handoff requests."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from orchestrator.core.state import HandoffRequest, Outgoing, State, TurnMessage

TEXT_KINDS = {"text", "image", "video", "document"}  # kinds whose text is the customer's words
# What the channel writes for media without a caption ("[image]", "[document: a.pdf]"): not words.
_MEDIA_PLACEHOLDER = re.compile(
    r"^\[(?:image|video|document|audio|sticker)(?::[^\]]*)?\]$|^\[voice message\]$"
)


def turn_text(state: State) -> str:
    """The customer's words in this turn (a burst is joined with newlines)."""
    parts = [
        m["text"]
        for m in state.get("incoming", [])
        if m["kind"] in TEXT_KINDS and m["text"] and not _MEDIA_PLACEHOLDER.match(m["text"].strip())
    ]
    return apply_corrections("\n".join(p.strip() for p in parts if p.strip()))


# "*person" after "can I talk to a real purse": the chat convention for correcting a word just
# typed (a star before the word, no closing star: "*bold*" is formatting).
_CORRECTION = re.compile(r"(?<![\w*])\*([^\W\d_][\w'-]{1,30})(?![\w*])")


def apply_corrections(text: str) -> str:
    """`text` with each "*word" correction put in place of the word it corrects: the most similar
    earlier word with the same first letter (similarity of at least half), the correction itself
    dropped. A star with no such word before it is left as it is."""
    if "*" not in text:
        return text
    from rapidfuzz import fuzz  # imported only for the rare message that has a star

    for m in reversed(list(_CORRECTION.finditer(text))):
        word = m.group(1)
        before = text[: m.start()]
        candidates = [
            (fuzz.ratio(w.group(0).lower(), word.lower()), w)
            for w in re.finditer(r"[^\W\d_][\w'-]*", before)
            if w.group(0)[0].lower() == word[0].lower() and w.group(0).lower() != word.lower()
        ]
        if not candidates:
            continue
        score, best = max(candidates, key=lambda c: (c[0], c[1].start()))
        if score < 50:
            continue
        rest = text[m.end() :]
        between = before[best.end() :].rstrip(" .,\n")
        text = before[: best.start()] + word + between + (" " if rest[:1].isalnum() else "") + rest
    return text.strip()


def last_message(state: State) -> TurnMessage | None:
    incoming = state.get("incoming", [])
    return incoming[-1] if incoming else None


def message_of(state: State, evidence: str | None) -> TurnMessage | None:
    """The message of this turn that `evidence` (a span of the turn's words) was taken from: the
    latest one holding it, so a detail keeps the message it came from when a burst carried several.
    The turn's last message when no single message holds it (a span across two, a model's
    paraphrase)."""
    incoming = state.get("incoming", [])
    wanted = " ".join((evidence or "").split()).casefold()
    if wanted:
        for message in reversed(incoming):
            if message["text"] and wanted in " ".join(message["text"].split()).casefold():
                return message
    return incoming[-1] if incoming else None


def comparable(text: str) -> str:
    """Lowercase, strip accents and punctuation: for comparisons, never for display."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w\s]", " ", stripped).strip()


def reply(text: str, *, agent: str) -> Outgoing:
    return {"kind": "text", "text": text, "agent": agent}


def handoff_request(
    *,
    reason: str,
    state: State,
    signals: list[dict[str, Any]] | None = None,
    department_choice: str | None = None,
) -> HandoffRequest:
    last = last_message(state)
    return {
        "reason": str(reason),
        "department_choice": department_choice,
        "evidence": {
            "message_id": last["id"] if last else None,
            "text": turn_text(state) or (last["reply_title"] if last else None),
            "signals": signals or [],
        },
        "summary": "",
        "open_questions": [],
        "promises": [],
    }
