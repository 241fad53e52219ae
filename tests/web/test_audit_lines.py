"""The audit page's words for an entry's details: names for ids, what changed from what to what,
and entries written by earlier versions still read."""

from __future__ import annotations

from handoff.web.audit_lines import AuditWords

WORDS = AuditWords(
    {"tara": "Tara Nguyen", "diego": "Diego Ruiz"}, {"support": "Support", "billing": "Finance"}
)


def test_an_erased_customers_transfer_keeps_who_and_where_and_says_the_note_went() -> None:
    line = WORDS.describe(
        "transfer",
        {"from_queue": "support", "to_queue": "billing", "from_rep_id": "tara", "erased": True},
    )
    assert line == "Support → Finance, from Tara Nguyen · customer erased since (what the rep wrote removed)"


def test_an_entry_erased_before_its_keys_were_kept_still_says_so() -> None:
    said = {WORDS.describe(action, {"erased": True}) for action in ("reassign", "transfer", "hand_back")}
    assert said == {"Customer erased since (what the rep wrote removed)"}


def test_a_user_change_recorded_with_new_values_only_still_reads() -> None:
    line = WORDS.describe("user_updated", {"rep_id": "tara", "queues": ["billing"], "capacity": 6})
    assert line == "Tara Nguyen · capacity → 6 · queues → Finance"


def test_an_erasure_counts_what_went_in_words_and_leaves_out_what_was_none() -> None:
    line = WORDS.describe(
        "customer_erased",
        {"contact_id": 4, "conversations": 1, "messages": 12, "media": 0, "statuses": 1, "raw_deliveries": 3},
    )
    assert line == "1 conversation, 12 messages, 1 delivery status, 3 raw deliveries"


def test_a_reassignment_to_the_queue_and_an_unknown_action_read() -> None:
    assert WORDS.describe("reassign", {"from_rep_id": "tara", "to_rep_id": None, "queue": "support"}) == (
        "Tara Nguyen → the next available rep, in Support"
    )
    assert (
        WORDS.describe("something_new", {"rep_id": "gus", "count": 2, "left": None})
        == "rep id: gus · count: 2"
    )


def test_a_reps_own_transfer_does_not_name_them_twice_but_a_leads_names_whose_it_was() -> None:
    details = {"from_queue": "support", "to_queue": "billing", "from_rep_id": "tara"}
    assert WORDS.describe("transfer", details, actor="tara") == "Support → Finance"
    assert WORDS.describe("transfer", details, actor="lena") == "Support → Finance, from Tara Nguyen"
