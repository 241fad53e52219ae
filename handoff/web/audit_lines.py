"""An audit entry's details as a lead or an admin reads them: the log keeps ids, slugs and codes
(for the API and for search); the page names the reps and queues and says what changed, from what
to what ("Gus Okafor · capacity 4 → 6 · queues General → General, Billing")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

ERASED = "customer erased since (what the rep wrote removed)"
_ERASED_ALONE = ERASED[:1].upper() + ERASED[1:]
_ERASURE_COUNTS = (
    ("conversations", "conversation", "conversations"),
    ("messages", "message", "messages"),
    ("media", "file", "files"),
    ("notes", "note", "notes"),
    ("events", "log event", "log events"),
    ("statuses", "delivery status", "delivery statuses"),
    ("raw_deliveries", "raw delivery", "raw deliveries"),
    ("inbox_items", "inbox item", "inbox items"),
)
_USER_FIELDS = ("name", "role", "capacity", "auto_assign", "queues", "password")


class AuditWords:
    """Turns entries' details into words with the names of reps (`reps`: id → name) and queues."""

    def __init__(self, reps: Mapping[str, str], queues: Mapping[str, str]) -> None:
        self.reps = reps
        self.queues = queues

    def rep(self, rep_id: object) -> str:
        if not isinstance(rep_id, str) or not rep_id:
            return "nobody"
        return self.reps.get(rep_id, rep_id)

    def queue(self, slug: object) -> str:
        return self.queues.get(slug, slug) if isinstance(slug, str) else "?"

    def queue_list(self, slugs: object) -> str:
        if not isinstance(slugs, list):
            return str(slugs)
        return ", ".join(self.queue(s) for s in slugs) or "none"

    def value(self, key: str, value: object) -> str:
        if key == "queues":
            return self.queue_list(value)
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "none"
        return str(value)

    def describe(self, action: str, details: Mapping[str, Any] | None, *, actor: str | None = None) -> str:
        """One line for the audit page ("" when the action says it all); `actor`, who did it, is
        not named again ("from Tara Nguyen" on Tara's own transfer)."""
        if not details:
            return ""
        if set(details) == {"erased"}:  # erased before the staff's part was kept: nothing to name
            return _ERASED_ALONE
        if action == "transfer" and actor is not None and details.get("from_rep_id") == actor:
            details = {k: v for k, v in details.items() if k != "from_rep_id"}
        line = _ACTIONS.get(action, AuditWords.generic)(self, details)
        if details.get("erased"):
            line = f"{line} · {ERASED}" if line else _ERASED_ALONE
        return line

    # -- one per action ------------------------------------------------------------------------
    def generic(self, details: Mapping[str, Any]) -> str:
        parts = []
        for key, value in details.items():
            if value is None or key == "erased":  # nothing to say ("from rep: None")
                continue
            parts.append(f"{key.replace('_', ' ')}: {self.value(key, value)}")
        return " · ".join(parts)

    def user_changed(self, details: Mapping[str, Any]) -> str:
        parts = [self.rep(details.get("rep_id"))]
        for key in _USER_FIELDS:
            if key not in details:
                continue
            change = details[key]
            if key == "password":
                parts.append("password changed")
            elif isinstance(change, dict) and "to" in change:
                before, after = self.value(key, change.get("from")), self.value(key, change["to"])
                parts.append(f"{key.replace('_', '-')} {before} → {after}")
            else:  # entries written before changes were recorded with their old value
                parts.append(f"{key.replace('_', '-')} → {self.value(key, change)}")
        return " · ".join(parts)

    def user_created(self, details: Mapping[str, Any]) -> str:
        rep_id = details.get("rep_id")
        parts = [f"{self.rep(rep_id)} ({rep_id})" if self.rep(rep_id) != rep_id else str(rep_id)]
        if details.get("role"):
            parts.append(str(details["role"]))
        if "queues" in details:
            parts.append(f"queues {self.queue_list(details['queues'] or [])}")
        return " · ".join(parts)

    def about_a_rep(self, details: Mapping[str, Any]) -> str:
        words = self.rep(details.get("rep_id"))
        if details.get("password") is True or details.get("api_token") is True:
            given = [w for w in ("password", "api_token") if details.get(w) is True]
            words += " · " + " and ".join(w.replace("_", " ").replace("api", "API") for w in given)
        return words

    def presence(self, details: Mapping[str, Any]) -> str:
        line = f"{details.get('from', '?')} → {details.get('to', '?')}"
        return f"{self.rep(details['rep_id'])}: {line}" if details.get("rep_id") else line

    def transfer(self, details: Mapping[str, Any]) -> str:
        to = details.get("to_queue") or details.get("queue")
        line = f"{self.queue(details.get('from_queue'))} → {self.queue(to)}"
        if details.get("from_rep_id"):
            line += f", from {self.rep(details['from_rep_id'])}"
        return line + _note(details)

    def reassign(self, details: Mapping[str, Any]) -> str:
        to = details.get("to_rep_id") or details.get("rep_id")
        after = self.rep(to) if to else "the next available rep"
        before = self.rep(details["from_rep_id"]) if details.get("from_rep_id") else "waiting"
        return f"{before} → {after}, in {self.queue(details.get('queue'))}"

    def resolve(self, details: Mapping[str, Any]) -> str:
        held = f"{self.rep(details['rep_id'])}'s" if details.get("rep_id") else "unassigned"
        return f"{held}, in {self.queue(details.get('queue'))}"

    def claim(self, details: Mapping[str, Any]) -> str:
        return f"from {self.queue(details.get('queue'))}" if details.get("queue") else ""

    def note(self, details: Mapping[str, Any]) -> str:
        mentions = details.get("mentions") or []
        return "mentioned " + ", ".join(self.rep(m) for m in mentions) if mentions else ""

    def hand_back(self, details: Mapping[str, Any]) -> str:
        return _note(details).removeprefix(" · ")

    def auto_assign(self, details: Mapping[str, Any]) -> str:
        return "on" if details.get("enabled") else "off"

    def canned(self, details: Mapping[str, Any]) -> str:
        if details.get("changed"):
            which = f"/{details['shortcut']} · " if details.get("shortcut") else ""
            return which + "changed " + ", ".join(map(str, details["changed"]))
        where = f"for {self.queue(details['queue'])}" if details.get("queue") else "for every queue"
        return f"/{details.get('shortcut', '?')} {where}"

    def erased(self, details: Mapping[str, Any]) -> str:
        counts = [
            f"{n} {one if n == 1 else many}"
            for key, one, many in _ERASURE_COUNTS
            if isinstance(n := details.get(key), int) and n
        ]
        return ", ".join(counts) or "nothing was left to erase"

    def nothing(self, details: Mapping[str, Any]) -> str:
        return ""


def _note(details: Mapping[str, Any]) -> str:
    note = details.get("note")
    return f" · note: “{note}”" if isinstance(note, str) and note.strip() else ""


_ACTIONS: dict[str, Callable[[AuditWords, Mapping[str, Any]], str]] = {
    "reply": AuditWords.nothing,
    "signed_in": AuditWords.nothing,
    "login_failed": AuditWords.nothing,
    "note": AuditWords.note,
    "claim": AuditWords.claim,
    "transfer": AuditWords.transfer,
    "reassign": AuditWords.reassign,
    "resolve": AuditWords.resolve,
    "hand_back": AuditWords.hand_back,
    "presence": AuditWords.presence,
    "auto_assign": AuditWords.auto_assign,
    "user_created": AuditWords.user_created,
    "user_updated": AuditWords.user_changed,
    "user_disabled": AuditWords.about_a_rep,
    "password_set": AuditWords.about_a_rep,
    "api_token_issued": AuditWords.about_a_rep,
    "api_token_revoked": AuditWords.about_a_rep,
    "rep_token_retired": AuditWords.about_a_rep,
    "rep_token_replaced": AuditWords.about_a_rep,
    "canned_created": AuditWords.canned,
    "canned_updated": AuditWords.canned,
    "canned_deleted": AuditWords.canned,
    "customer_erased": AuditWords.erased,
}
