"""Channel-side storage: contacts, conversations, inbound messages and delivery statuses.

Keyword-only functions; the caller owns the transaction. Writes that can race between processes
(the same contact's first messages delivered concurrently, Meta's duplicate deliveries) rely on
unique constraints, not on reads before writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from orchestrator.channels.whatsapp.client import describe_failure
from orchestrator.channels.whatsapp.inbound import ContactRef, InboundKind, InboundMessage, StatusUpdate
from orchestrator.core.contextlog import log_event
from orchestrator.core.db import UTCDateTime, fit, loaded, per_dialect
from orchestrator.core.enums import STATUS_RANK, Direction, EventType, Owner, SendStatus
from orchestrator.core.phones import country_of
from orchestrator.core.tables import Contact, Conversation, Message, MessageStatusEvent
from orchestrator.core.window import close_window, refused_for_the_window

WA_ID_MAX, USER_ID_MAX, WAMID_MAX, STATUS_MAX, CALLBACK_MAX = 32, 128, 255, 16, 512
# Kinds whose content the bot cannot read; stored and shown to reps, never dropped.
OPAQUE_KINDS = {InboundKind.UNSUPPORTED, InboundKind.UNKNOWN}
_MESSAGE = cast(sa.Table, Message.__table__)  # type: ignore[attr-defined]
_CONVERSATION = cast(sa.Table, Conversation.__table__)  # type: ignore[attr-defined]
_M, _C = _MESSAGE.c, _CONVERSATION.c


def _insert_or_nothing_statements(table: sa.Table) -> dict[str, Any]:
    """`table`'s INSERT that does nothing on a unique conflict (a row created concurrently), returning
    the row it wrote, per dialect."""
    return per_dialect(lambda insert: insert(table).on_conflict_do_nothing().returning(*table.c))


_CONTACT = cast(sa.Table, Contact.__table__)  # type: ignore[attr-defined]
_INSERT_OR_NOTHING = {
    "contact": _insert_or_nothing_statements(_CONTACT),
    "conversation": _insert_or_nothing_statements(_CONVERSATION),
}


def _row_of(obj: Contact | Conversation) -> dict[str, Any]:
    """`obj`'s column values but its id (a Core INSERT's values)."""
    table = cast(sa.Table, type(obj).__table__)  # type: ignore[union-attr]
    return {column.key: getattr(obj, column.key) for column in table.c if column.key != "id"}


async def _insert_or_nothing(session: AsyncSession, obj: Contact | Conversation) -> Any:
    """Insert `obj`'s row (a Core INSERT: no savepoint, no ORM flush) and return it as an object of
    the session; None when a unique constraint found it created concurrently."""
    table = cast(sa.Table, type(obj).__table__)  # type: ignore[union-attr]
    statement = _INSERT_OR_NOTHING[table.name][session.get_bind().dialect.name]
    row = (await session.execute(statement, _row_of(obj))).first()
    return None if row is None else _loaded(session, type(obj), row)


def _contact_by(wa_id: bool, user_id: bool) -> Any:
    conditions = []
    if wa_id:
        conditions.append(col(Contact.wa_id) == sa.bindparam("b_wa_id", type_=sa.String()))
    if user_id:
        conditions.append(col(Contact.user_id) == sa.bindparam("b_user_id", type_=sa.String()))
    return select(Contact).where(or_(*conditions))


# The statements every message runs, built once at import (bound per call): building a statement
# costs more CPU than the database takes to run it.
_CONTACT_BY = {(True, True): _contact_by(True, True), (True, False): _contact_by(True, False)}
_CONTACT_BY[False, True] = _contact_by(False, True)
_OPEN_CONVERSATION = select(Conversation).where(
    col(Conversation.contact_id) == sa.bindparam("b_contact_id"), col(Conversation.owner) != Owner.CLOSED
)


async def upsert_contact(session: AsyncSession, *, ref: ContactRef, at: datetime) -> Contact:
    """Find the contact by phone or business-scoped id (either may be missing), or create it.
    Over-long ids are shortened to their columns (`fit`); the message's raw payload keeps them whole."""
    contact, _ = await _find_or_create_contact(session, ref=ref, at=at)
    return contact


def _fitted(ref: ContactRef) -> ContactRef:
    """`ref` with its ids fitted to their columns (`fit`)."""
    return ref.model_copy(
        update={
            "wa_id": fit(ref.wa_id, WA_ID_MAX) if ref.wa_id else None,
            "user_id": fit(ref.user_id, USER_ID_MAX) if ref.user_id else None,
        }
    )


async def _find_or_create_contact(
    session: AsyncSession, *, ref: ContactRef, at: datetime
) -> tuple[Contact, bool]:
    """`upsert_contact`, and whether this transaction created the contact."""
    ref = _fitted(ref)
    if not ref.wa_id and not ref.user_id:
        raise ValueError("a contact needs a wa_id or a user_id")
    query = _CONTACT_BY[bool(ref.wa_id), bool(ref.user_id)]
    for _attempt in range(3):
        found: Contact | None = (
            (await session.execute(query, {"b_wa_id": ref.wa_id, "b_user_id": ref.user_id})).scalars().first()
        )
        if found is not None:
            changed = False
            for attr in ("wa_id", "user_id", "name", "username"):
                value = getattr(ref, attr)
                if value and getattr(found, attr) != value:
                    setattr(found, attr, value)
                    changed = True
            if ref.wa_id and not found.country:
                found.country = country_of(ref.wa_id)
                changed = True
            if changed:
                session.add(found)
                await session.flush()
            return found, False
        contact = Contact(
            wa_id=ref.wa_id,
            user_id=ref.user_id,
            name=ref.name,
            username=ref.username,
            country=country_of(ref.wa_id),
            created_at=at,
        )
        created = await _insert_or_nothing(session, contact)
        if created is None:
            continue  # created concurrently by another delivery: read it back
        return cast(Contact, created), True
    raise RuntimeError("could not create or find the contact")


async def current_conversation(
    session: AsyncSession, *, contact: Contact, at: datetime, referral: dict[str, Any] | None = None
) -> Conversation:
    """The contact's open conversation, or a new bot-owned one."""
    assert contact.id is not None
    for _attempt in range(3):
        found: Conversation | None = (
            (await session.execute(_OPEN_CONVERSATION, {"b_contact_id": contact.id})).scalars().first()
        )
        if found is not None:
            if referral and found.referral is None and found.owner == Owner.BOT and found.turns == 0:
                found.referral = referral
                session.add(found)
            return found
        conversation = Conversation(
            contact_id=contact.id, owner=Owner.BOT, referral=referral, created_at=at, updated_at=at
        )
        created = await _insert_or_nothing(session, conversation)
        if created is None:
            continue  # opened concurrently by another delivery: read it back
        return cast(Conversation, created)
    raise RuntimeError("could not create or find the conversation")


async def _open_first_conversation(
    session: AsyncSession, *, contact: Contact, at: datetime, msg: InboundMessage
) -> Conversation:
    """The first conversation of a contact this transaction created: nobody else can see the
    contact yet, so there is no open conversation to look for, and none can be opened meanwhile.
    It is opened with the message's arrival already marked (bot-owned, a message pending), unless
    it is WhatsApp's notice rather than the customer writing."""
    assert contact.id is not None
    written = msg.kind != InboundKind.SYSTEM
    conversation = Conversation(
        contact_id=contact.id,
        owner=Owner.BOT,
        referral=msg.referral,
        has_pending=written,
        last_inbound_at=msg.timestamp if written else None,
        created_at=at,
        updated_at=at,
    )
    created = await _insert_or_nothing(session, conversation)
    if created is None:
        raise RuntimeError(f"a conversation of contact {contact.id} exists before the contact was committed")
    return cast(Conversation, created)


_LATEST_CONVERSATION = (
    select(Conversation)
    .where(col(Conversation.contact_id) == sa.bindparam("b_contact_id"))
    .order_by(
        sa.case((col(Conversation.owner) != Owner.CLOSED, 0), else_=1),
        col(Conversation.id).desc(),
    )
    .limit(1)
)


async def _latest_conversation(session: AsyncSession, *, contact: Contact) -> Conversation | None:
    """The contact's open conversation, else their latest closed one; None if they have none."""
    rows = await session.execute(_LATEST_CONVERSATION, {"b_contact_id": contact.id})
    return rows.scalars().first()


def words_of(msg: InboundMessage) -> str | None:
    """The customer's own words in a message (text, caption, reply title), for the agents."""
    if msg.kind == InboundKind.TEXT:
        return msg.text
    if msg.kind in (InboundKind.BUTTON_REPLY, InboundKind.LIST_REPLY, InboundKind.TEMPLATE_BUTTON):
        return msg.reply_title or msg.text
    if msg.media is not None and msg.media.caption:
        return msg.media.caption
    return None


def _store_inbound_statement(insert: Any) -> Any:
    """The inbound row's INSERT, its values bound per call (the keys of `store_inbound`'s values);
    a duplicate delivery (the same wamid) inserts nothing and returns no row."""
    return insert(_MESSAGE).on_conflict_do_nothing(index_elements=["wa_message_id"]).returning(*_MESSAGE.c)


_MARK_INBOUND = (
    sa.update(_CONVERSATION)
    .where(_C.id == sa.bindparam("b_conversation_id"))
    .values(
        # A conversation closed since its owner was read (`_CHANGED_HANDS`) is locked here but not
        # touched: its messages move to another one.
        last_inbound_at=sa.case(
            (_C.owner == Owner.CLOSED, _C.last_inbound_at),
            else_=sa.bindparam("b_last_inbound_at", type_=UTCDateTime()),
        ),
        updated_at=sa.case(
            (_C.owner == Owner.CLOSED, _C.updated_at), else_=sa.bindparam("b_at", type_=UTCDateTime())
        ),
        # Set for a bot-owned conversation, left as it is otherwise. The owner read with the
        # message may be stale (`_CHANGED_HANDS`): the row's own decides too.
        has_pending=sa.case(
            (sa.bindparam("b_pending", type_=sa.Boolean()), sa.true()),
            (_C.owner == Owner.BOT, sa.true()),
            else_=_C.has_pending,
        ),
    )
)
# Messages stored for a rep whose conversation changed hands after the owner was read with them
# (PostgreSQL, READ COMMITTED: that read takes no lock). The mark above waited for the other
# transaction's row lock, saw its change and holds the row until the commit, so the owner read here
# is the one the transaction commits with. A hand-back (the bot's now): the bot takes the messages,
# made pending here; without this they stayed the rep's, in a conversation no rep has, and no turn
# ever answered them. A close (the rep resolved it): the messages move to a new conversation
# (`moved_from_closed`); without this they stayed in the closed one, seen and answered by nobody.
# One statement, with the rows of both kinds; on SQLite a write transaction is serialised from its
# BEGIN: the owner read cannot be stale.
_TAKEN_BACK = (
    sa.update(_MESSAGE)
    .where(
        _M.id.in_(sa.bindparam("b_ids", expanding=True)),
        sa.exists().where(_C.id == _M.conversation_id, _C.owner == Owner.BOT),
    )
    .values(status="received")
    .returning(_M.id)
    .cte("taken_back")
)
_CHANGED_HANDS = (
    select(_M.id, _C.owner)
    .join_from(_MESSAGE, _CONVERSATION, _C.id == _M.conversation_id)
    .where(_M.id.in_(sa.bindparam("b_ids", expanding=True)), _C.owner.in_([Owner.BOT, Owner.CLOSED]))
    .add_cte(_TAKEN_BACK)
)
_MOVE_MESSAGES = (
    sa.update(_MESSAGE)
    .where(_M.id.in_(sa.bindparam("b_ids", expanding=True)))
    .values(conversation_id=sa.bindparam("b_conversation_id"), status=sa.bindparam("b_status"))
)


async def _changed_hands(session: AsyncSession, message_ids: list[int]) -> dict[int, Owner]:
    """Of these messages, just stored for a rep (their conversations marked, so locked), those
    whose conversation is the bot's (taken back by it: pending now) or closed after all, with that
    owner (`_CHANGED_HANDS`); PostgreSQL only."""
    if not message_ids or session.get_bind().dialect.name != "postgresql":
        return {}
    rows = await session.execute(_CHANGED_HANDS, {"b_ids": message_ids})
    return {message_id: Owner(owner) for message_id, owner in rows}


async def moved_from_closed(
    session: AsyncSession,
    *,
    contact: Contact,
    closed: Conversation,
    message_ids: list[int],
    last_inbound_at: datetime,
    at: datetime,
) -> Conversation:
    """Messages stored in a conversation that was closed meanwhile (for a rep: `_CHANGED_HANDS`;
    for the bot: a handoff and a close before its turn read them) moved to the contact's open
    conversation, a new one for the bot unless another delivery has opened one meanwhile, and
    marked there as any message is. Returns that conversation."""
    set_committed_value(closed, "owner", Owner.CLOSED)
    home = await current_conversation(session, contact=contact, at=at)
    assert home.id is not None
    for_bot = home.owner == Owner.BOT
    await session.execute(
        _MOVE_MESSAGES,
        {
            "b_ids": message_ids,
            "b_conversation_id": home.id,
            "b_status": "received" if for_bot else "for_rep",
        },
    )
    last = max(filter(None, [home.last_inbound_at, last_inbound_at]))
    await session.execute(
        _MARK_INBOUND,
        {"b_conversation_id": home.id, "b_last_inbound_at": last, "b_at": at, "b_pending": for_bot},
    )
    set_committed_value(home, "last_inbound_at", last)
    set_committed_value(home, "updated_at", at)
    if for_bot:
        set_committed_value(home, "has_pending", True)
    return home


def _loaded(session: AsyncSession, entity: Any, row: Any) -> Any:
    return loaded(session, entity, row._mapping)


_STORE_INBOUND = per_dialect(_store_inbound_statement)


async def store_inbound(
    session: AsyncSession, *, msg: InboundMessage, at: datetime
) -> tuple[Message | None, Conversation]:
    """Persist one inbound message; returns (None, conversation) for a duplicate delivery."""
    contact, new_contact = await _find_or_create_contact(session, ref=msg.contact, at=at)
    # WhatsApp's own notice (a `system` message: a changed number) is shown to the reps, but it is
    # not the customer writing: no turn for the bot, no "customer wrote" for the rep, no unread
    # message, and the 24-hour window stays as the customer's last message left it. Nor does it
    # open a conversation: with none open, it goes into the customer's latest one.
    notice = msg.kind == InboundKind.SYSTEM
    latest = await _latest_conversation(session, contact=contact) if notice and not new_contact else None
    if latest is not None:
        conversation = latest
    elif new_contact:  # a customer's first message: its conversation opened already marked
        conversation = await _open_first_conversation(session, contact=contact, at=at, msg=msg)
    else:
        conversation = await current_conversation(session, contact=contact, at=at, referral=msg.referral)
    assert conversation.id is not None
    for_bot = conversation.owner == Owner.BOT and not notice
    values = _inbound_values(msg, conversation_id=conversation.id, for_bot=for_bot, at=at)
    dialect = session.get_bind().dialect.name
    row = (await session.execute(_STORE_INBOUND[dialect], values)).first()
    if row is None:
        return None, conversation
    message = _loaded(session, Message, row)
    if notice:
        return message, conversation
    last_inbound_at = max(filter(None, [conversation.last_inbound_at, msg.timestamp]))
    # Always written (unless the conversation was opened marked, just now), `has_pending` too even
    # when this session read it set: a turn committing meanwhile may have cleared it (PostgreSQL,
    # READ COMMITTED), and an unwritten "unchanged" value would leave this message with no turn ever
    # coming. A Core UPDATE (an ORM flush of one row costs several times its statement); the
    # session's copy of the conversation is kept in step.
    if not new_contact:
        await session.execute(
            _MARK_INBOUND,
            {
                "b_conversation_id": conversation.id,
                "b_last_inbound_at": last_inbound_at,
                "b_at": at,
                "b_pending": for_bot,
            },
        )
        set_committed_value(conversation, "last_inbound_at", last_inbound_at)
        set_committed_value(conversation, "updated_at", at)
        now = (await _changed_hands(session, [message.id])).get(message.id) if not for_bot else None
        if now == Owner.BOT:
            for_bot = True
            set_committed_value(message, "status", "received")
            set_committed_value(conversation, "owner", Owner.BOT)
        elif now == Owner.CLOSED:
            conversation = await moved_from_closed(
                session,
                contact=contact,
                closed=conversation,
                message_ids=[message.id],
                last_inbound_at=msg.timestamp,
                at=at,
            )
            for_bot = conversation.owner == Owner.BOT
            set_committed_value(message, "conversation_id", conversation.id)
            set_committed_value(message, "status", "received" if for_bot else "for_rep")
        if for_bot:
            set_committed_value(conversation, "has_pending", True)
    assert conversation.id is not None
    if not for_bot:
        assert message.id is not None
        await tell_the_rep(
            session,
            conversation_id=conversation.id,
            owner=conversation.owner,
            message_id=message.id,
            text=msg.text,
            kind=str(msg.kind),
            at=at,
        )
    if msg.kind in OPAQUE_KINDS:
        await log_event(
            session,
            conversation_id=conversation.id,
            type=EventType.UNSUPPORTED_MESSAGE,
            source="whatsapp",
            description=(
                f"message of type {msg.raw_type!r} the bot cannot read"
                f"{_meta_says(msg.errors)}; kept for the rep"
            ),
            at=at,
            details={"message_id": message.id, "raw_type": msg.raw_type, "errors": msg.errors},
        )
    await session.flush()
    return message, conversation


async def follow_number_change(
    session: AsyncSession, *, msg: InboundMessage, conversation_id: int, at: datetime
) -> None:
    """WhatsApp's notice that the customer changed their number (a `system` message of type
    `user_changed_number`, giving the new `wa_id`): the contact takes the new number, so replies go
    to it (those still waiting to be sent too) and the customer's next message, from the new number,
    comes into this conversation. When another contact already has the new number (they wrote from
    it before the notice came), nothing moves, and the log says so for the rep."""
    system = msg.raw.get("system")
    changed = isinstance(system, dict) and system.get("type") == "user_changed_number"
    new = system.get("wa_id") if changed and isinstance(system, dict) else None
    if not isinstance(new, str) or not new.isdigit() or len(new) > WA_ID_MAX:
        return
    conversation = await session.get(Conversation, conversation_id)
    contact = await session.get(Contact, conversation.contact_id) if conversation is not None else None
    if contact is None or contact.wa_id == new:
        return
    old = contact.wa_id
    taken = await session.scalar(select(col(Contact.id)).where(col(Contact.wa_id) == new))
    if taken is not None:
        await log_event(
            session,
            conversation_id=conversation_id,
            type=EventType.NUMBER_CHANGED,
            source="whatsapp",
            description=(
                f"WhatsApp says the customer changed their number to +{new}, but +{new} already writes"
                f" as another customer: replies still go to +{old}"
            ),
            at=at,
            details={"from": old, "to": new, "moved": False, "other_contact_id": taken},
        )
        return
    contact.wa_id, contact.country = new, country_of(new)
    session.add(contact)
    # Replies not sent yet were addressed to the old number: they go to the new one.
    unsent = await session.execute(
        select(Message)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(
            col(Conversation.contact_id) == contact.id,
            col(Message.direction) == Direction.OUTBOUND,
            col(Message.status).in_([SendStatus.PENDING, SendStatus.SENDING]),
        )
    )
    readdressed = 0
    for message in unsent.scalars():
        payload = message.payload or {}
        to = payload.get("to")
        if isinstance(to, str) and old and to.lstrip("+") == old:  # sent as "+<number>"
            message.payload = {**payload, "to": to.replace(old, new)}
            session.add(message)
            readdressed += 1
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.NUMBER_CHANGED,
        source="whatsapp",
        description=f"the customer changed their WhatsApp number from +{old} to +{new}; replies go to +{new}",
        at=at,
        details={"from": old, "to": new, "moved": True, "readdressed": readdressed},
    )
    await session.flush()


def _meta_says(errors: list[dict[str, Any]]) -> str:
    """What Meta said about a message it could not deliver whole (`errors[].error_data.details`, or
    the error's title), for the rep: " (Meta: Message type is currently not supported.)"."""
    for error in errors:
        data = error.get("error_data")
        said = (data.get("details") if isinstance(data, dict) else None) or error.get("title")
        if isinstance(said, str) and said.strip():
            return f" (Meta: {said.strip()[:200]})"
    return ""


async def tell_the_rep(
    session: AsyncSession,
    *,
    conversation_id: int,
    owner: Owner,
    message_id: int,
    text: str | None,
    kind: str,
    at: datetime,
) -> None:
    """A customer's message in a conversation a rep (or a queue) has: the rep workspace is told
    through the context log (notifications follow the log)."""
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.MESSAGE_RECEIVED,
        source="customer",
        description=f"customer wrote while {owner}: {(text or '')[:120]}",
        at=at,
        details={"message_id": message_id, "kind": kind},
    )


@dataclass
class StoredInbound:
    """What storing one inbound message did (`stored` False: a duplicate delivery)."""

    stored: bool
    conversation_id: int
    owner: Owner
    # The row as an object of the session, when the message was stored on its own (media is
    # registered against it: such a message is never stored with a run).
    message: Message | None = None


# A run's senders, known contacts with their open conversation (if any), in one read.
_RUN_CONTACTS = (
    select(Contact, Conversation)
    .outerjoin(
        Conversation,
        and_(col(Conversation.contact_id) == col(Contact.id), col(Conversation.owner) != Owner.CLOSED),
    )
    .where(
        or_(
            col(Contact.wa_id).in_(sa.bindparam("b_wa_ids", expanding=True)),
            col(Contact.user_id).in_(sa.bindparam("b_user_ids", expanding=True)),
        )
    )
)
_NEW_CONTACTS = per_dialect(
    lambda insert: insert(_CONTACT).on_conflict_do_nothing().returning(_CONTACT.c.id, _CONTACT.c.wa_id)
)
_FIRST_CONVERSATIONS = per_dialect(
    lambda insert: insert(_CONVERSATION).returning(_CONVERSATION.c.id, _CONVERSATION.c.contact_id)
)
_STORE_RUN = per_dialect(
    lambda insert: (
        insert(_MESSAGE)
        .on_conflict_do_nothing(index_elements=["wa_message_id"])
        .returning(_M.id, _M.wa_message_id)
    )
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Every column of a new row with its model's default, made once (a model's `__init__` validates
# every field: a run of new customers is built from these instead).
_NEW_CONTACT = _row_of(Contact(created_at=_EPOCH))
_NEW_CONVERSATION = _row_of(Conversation(contact_id=0, created_at=_EPOCH, updated_at=_EPOCH))


async def store_inbound_run(
    session: AsyncSession, *, msgs: Sequence[InboundMessage], at: datetime
) -> list[StoredInbound]:
    """Store a run of inbound messages (a worker's batch), in the order of their senders' first
    message, each sender's in arrival order: what `store_inbound` does for each, in a few
    statements for the run instead of four or five a message. The senders that need nothing but
    the common case go together: a new contact's first messages (its contact, its first
    conversation and its messages, each one multi-row statement for all such senders), or a known
    contact whose open conversation the bot owns (its messages, then the conversations marked, one
    statement each). A sender with anything else (media, a kind the bot cannot read, an ad referral
    on a known contact, a name that changed, a conversation a rep owns or none open, a contact
    created concurrently) goes through `store_inbound`, message by message, at its place: senders
    are taken in order, so the row locks of a run are taken in that order (on PostgreSQL the run
    comes sorted by sender: `inbox.kind_batches`)."""
    senders: dict[tuple[str | None, str | None], list[int]] = {}
    refs: list[ContactRef] = []
    for index, msg in enumerate(msgs):
        ref = _fitted(msg.contact)
        refs.append(ref)
        senders.setdefault((ref.wa_id, ref.user_id), []).append(index)
    shared_wa_ids = Counter(wa for wa, _ in senders if wa)  # one phone under two user ids: one by one
    wa_ids = sorted(shared_wa_ids)
    user_ids = sorted({user for _, user in senders if user})
    found: dict[tuple[str, str | None], list[tuple[Contact, Conversation | None]]] = {}
    if wa_ids or user_ids:
        rows = await session.execute(_RUN_CONTACTS, {"b_wa_ids": wa_ids, "b_user_ids": user_ids})
        for contact, conversation in rows:
            pair = (contact, conversation)
            if contact.wa_id:
                found.setdefault(("wa", contact.wa_id), []).append(pair)
            if contact.user_id:
                found.setdefault(("user", contact.user_id), []).append(pair)
    results: dict[int, StoredInbound] = {}
    group: list[tuple[list[int], Contact | None, Conversation | None]] = []
    for (wa_id, user_id), indexes in senders.items():
        pairs = found.get(("wa", wa_id), []) + found.get(("user", user_id), [])
        matches = list({id(contact): (contact, conversation) for contact, conversation in pairs}.values())
        common = (
            _common_sender([msgs[i] for i in indexes], [refs[i] for i in indexes], matches)
            if wa_id and shared_wa_ids[wa_id] == 1
            else None
        )
        if common is None:
            await _store_group(session, group=group, msgs=msgs, refs=refs, at=at, results=results)
            group = []
            for index in indexes:
                results[index] = await store_one(session, msg=msgs[index], at=at)
        else:
            group.append((indexes, *common))
    await _store_group(session, group=group, msgs=msgs, refs=refs, at=at, results=results)
    return [results[index] for index in range(len(msgs))]


async def store_one(session: AsyncSession, *, msg: InboundMessage, at: datetime) -> StoredInbound:
    """`store_inbound` of one message, told as `store_inbound_run` tells each of a run's."""
    message, conversation = await store_inbound(session, msg=msg, at=at)
    assert conversation.id is not None
    return StoredInbound(message is not None, conversation.id, conversation.owner, message)


def _common_sender(
    msgs: list[InboundMessage], refs: list[ContactRef], matches: list[tuple[Contact, Conversation | None]]
) -> tuple[Contact | None, Conversation | None] | None:
    """(None, None) for a new contact, (contact, conversation) for a known one with an open
    conversation (the bot's, or a rep's or a queue's), when the sender's messages need nothing but
    the common case; None otherwise (`store_inbound` one by one)."""
    ref = refs[0]
    if any(other != ref for other in refs[1:]):  # a name that changes between two messages
        return None
    if any(m.media is not None or m.kind in OPAQUE_KINDS or m.kind == InboundKind.SYSTEM for m in msgs):
        return None
    if not matches:
        # A new contact: its first conversation takes the first message's referral, as
        # `_open_first_conversation` does; a later one's would go to `current_conversation`.
        return (None, None) if not any(m.referral for m in msgs[1:]) else None
    if len(matches) != 1 or any(m.referral for m in msgs):
        return None
    contact, conversation = matches[0]
    unchanged = all(
        not getattr(ref, attr) or getattr(contact, attr) == getattr(ref, attr)
        for attr in ("wa_id", "user_id", "name", "username")
    )
    if not unchanged or not contact.country or conversation is None:
        return None
    return contact, conversation


async def _store_group(
    session: AsyncSession,
    *,
    group: list[tuple[list[int], Contact | None, Conversation | None]],
    msgs: Sequence[InboundMessage],
    refs: list[ContactRef],
    at: datetime,
    results: dict[int, StoredInbound],
) -> None:
    """Store the common senders of `store_inbound_run` together (those whose new contact turns out
    to have been created concurrently go through `store_inbound`, after the others)."""
    if not group:
        return
    dialect = session.get_bind().dialect.name
    new = [(indexes, refs[indexes[0]]) for indexes, contact, _ in group if contact is None]
    conversations: dict[int, int] = {}  # sender's first message index -> conversation id
    fresh: set[int] = set()  # conversations opened here, already marked
    late: list[list[int]] = []
    if new:
        contact_rows = [
            {
                **_NEW_CONTACT,
                "wa_id": ref.wa_id,
                "user_id": ref.user_id,
                "name": ref.name,
                "username": ref.username,
                "country": country_of(ref.wa_id),
                "created_at": at,
            }
            for _, ref in new
        ]
        created = {row.wa_id: row.id for row in await session.execute(_NEW_CONTACTS[dialect], contact_rows)}
        opened: list[tuple[list[int], int]] = []
        for indexes, ref in new:
            if ref.wa_id in created:
                opened.append((indexes, created[ref.wa_id]))
            else:
                late.append(indexes)
        if opened:
            first_rows = [
                {
                    **_NEW_CONVERSATION,
                    "contact_id": contact_id,
                    "owner": Owner.BOT,
                    "referral": msgs[indexes[0]].referral,
                    "has_pending": True,
                    "last_inbound_at": max(msgs[i].timestamp for i in indexes),
                    "created_at": at,
                    "updated_at": at,
                }
                for indexes, contact_id in opened
            ]
            by_contact = {
                row.contact_id: row.id
                for row in await session.execute(_FIRST_CONVERSATIONS[dialect], first_rows)
            }
            for indexes, contact_id in opened:
                conversations[indexes[0]] = by_contact[contact_id]
                fresh.add(by_contact[contact_id])
    known: dict[int, Conversation] = {}
    contacts: dict[int, Contact] = {}  # a known conversation's contact
    for indexes, contact, conversation in group:
        if contact is not None and conversation is not None:
            assert conversation.id is not None
            conversations[indexes[0]] = conversation.id
            known[conversation.id] = conversation
            contacts[conversation.id] = contact

    def owner_of(conversation_id: int) -> Owner:
        return known[conversation_id].owner if conversation_id in known else Owner.BOT

    values: list[dict[str, Any]] = []
    for indexes, _, _ in group:
        conversation_id = conversations.get(indexes[0])
        if conversation_id is None:
            continue
        for_bot = owner_of(conversation_id) == Owner.BOT
        values.extend(
            _inbound_values(msgs[i], conversation_id=conversation_id, for_bot=for_bot, at=at) for i in indexes
        )
    stored: dict[str, int] = {}  # wamid -> message id; a wamid twice in the run is stored for its first
    if values:
        stored = {row.wa_message_id: row.id for row in await session.execute(_STORE_RUN[dialect], values)}
    marks: dict[int, datetime] = {}
    for_reps: dict[int, int] = {}  # message id -> the message's index, stored for a rep
    stored_ids: dict[int, int] = {}  # the message's index -> its id, of those stored for a rep
    for indexes, _, _ in group:
        conversation_id = conversations.get(indexes[0])
        if conversation_id is None:
            continue
        owner = owner_of(conversation_id)
        for i in indexes:
            message_id = stored.pop(fit(msgs[i].wa_message_id, WAMID_MAX), None)
            results[i] = StoredInbound(message_id is not None, conversation_id, owner)
            if message_id is None:
                continue
            if conversation_id not in fresh:
                previous = marks.get(conversation_id) or known[conversation_id].last_inbound_at
                marks[conversation_id] = max(filter(None, [previous, msgs[i].timestamp]))
            if owner != Owner.BOT:
                for_reps[message_id] = i
                stored_ids[i] = message_id
    if marks:
        await session.execute(
            _MARK_INBOUND,
            [
                {
                    "b_conversation_id": cid,
                    "b_last_inbound_at": last,
                    "b_at": at,
                    "b_pending": known[cid].owner == Owner.BOT,
                }
                for cid, last in marks.items()
            ],
        )
    closed: dict[int, list[int]] = {}  # a conversation closed meanwhile -> its messages' indexes
    for message_id, now in (await _changed_hands(session, list(for_reps))).items():
        i = for_reps.pop(message_id)
        if now == Owner.BOT:
            results[i] = replace(results[i], owner=Owner.BOT)
            set_committed_value(known[results[i].conversation_id], "owner", Owner.BOT)
        else:
            closed.setdefault(results[i].conversation_id, []).append(i)
    for cid, last in marks.items():  # the session's copies kept in step with the mark
        set_committed_value(known[cid], "last_inbound_at", last)
        set_committed_value(known[cid], "updated_at", at)
        if known[cid].owner == Owner.BOT:
            set_committed_value(known[cid], "has_pending", True)
    for cid, indexes in closed.items():
        ids = {i: stored_ids[i] for i in indexes}
        home = await moved_from_closed(
            session,
            contact=contacts[cid],
            closed=known[cid],
            message_ids=list(ids.values()),
            last_inbound_at=max(msgs[i].timestamp for i in indexes),
            at=at,
        )
        assert home.id is not None
        for i, message_id in ids.items():
            results[i] = replace(results[i], conversation_id=home.id, owner=home.owner)
            if home.owner != Owner.BOT:
                for_reps[message_id] = i
    for message_id, i in for_reps.items():  # the rep's workspace is told, as `store_inbound` tells it
        result = results[i]
        await tell_the_rep(
            session,
            conversation_id=result.conversation_id,
            owner=result.owner,
            message_id=message_id,
            text=msgs[i].text,
            kind=str(msgs[i].kind),
            at=at,
        )
    for indexes in late:  # created by another delivery meanwhile: found and stored one by one
        for index in indexes:
            results[index] = await store_one(session, msg=msgs[index], at=at)


def _inbound_values(
    msg: InboundMessage, *, conversation_id: int, for_bot: bool, at: datetime
) -> dict[str, Any]:
    """The inbound row's values (`_STORE_INBOUND`)."""
    return {
        "conversation_id": conversation_id,
        "direction": Direction.INBOUND,
        "wa_message_id": fit(msg.wa_message_id, WAMID_MAX),
        "kind": str(msg.kind),
        "text": msg.text,
        "reply_id": msg.reply_id,
        "payload": {"message": msg.raw, "words": words_of(msg), "reply_title": msg.reply_title},
        "sender_type": "customer",
        "status": "received" if for_bot else "for_rep",
        "sent_at": msg.timestamp,
        "created_at": at,
        "updated_at": at,
    }


_STATUS_EVENT = cast(sa.Table, MessageStatusEvent.__table__)  # type: ignore[attr-defined]
# Statuses recorded once each: one INSERT for a batch (`executemany`, which SQLAlchemy sends as
# multi-row VALUES), returning the (wamid, status) pairs that were new.
_INSERT_STATUSES = per_dialect(
    lambda insert: (
        insert(_STATUS_EVENT)
        .on_conflict_do_nothing(index_elements=["wa_message_id", "status"])
        .returning(_STATUS_EVENT.c.wa_message_id, _STATUS_EVENT.c.status)
    )
)
# A delivery status moves the message forward only: the message (if it is ours) takes the new
# status unless it is failed or already as far or further (statuses arrive out of order), read and
# written in one statement, executed once for a batch.
_RANK_OF_STATUS = sa.case({str(s): rank for s, rank in STATUS_RANK.items()}, value=_M.status, else_=-1)
_ADVANCE_STATUS = (
    sa.update(_MESSAGE)
    .where(
        _M.wa_message_id == sa.bindparam("b_wamid"),
        _M.status != str(SendStatus.FAILED),
        sa.bindparam("b_rank", type_=sa.Integer()) > _RANK_OF_STATUS,
    )
    .values(status=sa.bindparam("b_status"), updated_at=sa.bindparam("b_at", type_=UTCDateTime()))
)


async def apply_status(session: AsyncSession, *, status: StatusUpdate, at: datetime) -> bool:
    """Record a delivery status once (`apply_statuses` of one); False for a duplicate."""
    return (await apply_statuses(session, statuses=[status], at=at))[0]


async def apply_statuses(
    session: AsyncSession, *, statuses: Sequence[StatusUpdate], at: datetime
) -> list[bool]:
    """Record delivery statuses once each and move their messages' status forward only, in two
    statements for the whole batch (on PostgreSQL, a batch's statuses come in their messages' lock
    order: `inbox.kind_batches`). A `failed` status marks the message failed and is logged for the
    rep. Returns, per status, whether it was new (False: a duplicate)."""
    if not statuses:
        return []
    rows: list[dict[str, Any]] = [
        {
            "wa_message_id": fit(status.wa_message_id, WAMID_MAX),
            "status": fit(status.status, STATUS_MAX),
            "timestamp": status.timestamp,
            "errors": status.errors or None,
            "raw": status.raw,
            "callback_data": fit(status.callback_data, CALLBACK_MAX) if status.callback_data else None,
            "created_at": at,
        }
        for status in statuses
    ]
    inserted = await session.execute(_INSERT_STATUSES[session.get_bind().dialect.name], rows)
    new = {(row.wa_message_id, row.status) for row in inserted}
    flags: list[bool] = []
    for row in rows:  # each new pair counted once, for the first status that carries it
        key = (row["wa_message_id"], row["status"])
        flags.append(key in new)
        new.discard(key)
    advances = [
        {
            "b_wamid": row["wa_message_id"],
            "b_status": status.status,
            "b_rank": STATUS_RANK[SendStatus(status.status)],
            "b_at": at,
        }
        for status, row, fresh in zip(statuses, rows, flags, strict=True)
        if fresh and status.status in STATUS_RANK
    ]
    if advances:
        await session.execute(_ADVANCE_STATUS, advances)
    for status, row, fresh in zip(statuses, rows, flags, strict=True):
        if fresh and status.status == SendStatus.FAILED:
            await _record_failed(session, status=status, wamid=row["wa_message_id"], at=at)
    return flags


async def _record_failed(session: AsyncSession, *, status: StatusUpdate, wamid: str, at: datetime) -> None:
    """A `failed` status: the message (if it is ours) marked failed and the failure logged for the rep."""
    found = await session.execute(select(Message).where(col(Message.wa_message_id) == wamid))
    message = found.scalars().first()
    if message is None:
        return  # a status for a message sent by something else: kept in the status table only
    message.status = SendStatus.FAILED
    message.error = {"source": "status_webhook", "errors": status.errors}
    message.updated_at = at
    session.add(message)
    reason = describe_failure(message.error)
    await log_event(
        session,
        conversation_id=message.conversation_id,
        type=EventType.SEND_FAILED,
        source="whatsapp",
        description=f"delivery failed: {reason}",
        at=at,
        details={"message_id": message.id, "errors": status.errors, "reason": reason},
    )
    await session.flush()
    if refused_for_the_window(status.errors):
        await close_window(session, conversation_id=message.conversation_id, at=at)


# The statements every turn runs, built once at import (bound per call): building a statement costs
# more CPU than SQLite takes to run it.
_PENDING_INBOUND_OF = (
    select(Message)
    .where(
        col(Message.conversation_id).in_(sa.bindparam("b_conversation_ids", expanding=True)),
        col(Message.direction) == Direction.INBOUND,
        col(Message.status) == "received",
        col(Message.turn).is_(None),
    )
    .order_by(col(Message.conversation_id), col(Message.sent_at), col(Message.id))
)


async def pending_inbound_of(session: AsyncSession, conversation_ids: list[int]) -> dict[int, list[Message]]:
    """The unprocessed inbound messages of each of these conversations (a turn's input), in one
    statement, by conversation, each in the order sent."""
    found: dict[int, list[Message]] = {cid: [] for cid in conversation_ids}
    for message in (
        await session.execute(_PENDING_INBOUND_OF, {"b_conversation_ids": conversation_ids})
    ).scalars():
        found[message.conversation_id].append(message)
    return found


def _claim_leases_statement(*, skip_locked: bool) -> sa.Update:
    """Take the turn leases of several conversations (`b_conversation_ids`) that are free or
    expired, returning those taken (atomic on both databases), and count a lease taken over from a
    holder that never released it (`lease_lapses`: turns interrupted in a row). With `skip_locked`
    (PostgreSQL) the rows are locked in id order first and a row another transaction holds is
    passed over, not waited for: a group never waits on a lock while holding others (so it never
    deadlocks with a writer locking the same conversations in another order)."""
    free = or_(_C.lease_until.is_(None), _C.lease_until < sa.bindparam("b_at", type_=UTCDateTime()))
    ids: sa.BindParameter[list[int]] = sa.bindparam("b_conversation_ids", expanding=True)
    if skip_locked:
        lockable = (
            select(_C.id)
            .where(_C.id.in_(ids), free)
            .order_by(_C.id)
            .with_for_update(skip_locked=True, key_share=True)
        )
        # The ids again outside: the UPDATE's own scan bound to them (an index scan whatever
        # the table's size), joined to the rows the subquery locked.
        where: Any = and_(_C.id.in_(ids), _C.id.in_(lockable.scalar_subquery()))
    else:
        where = and_(_C.id.in_(ids), free)
    return (
        sa.update(_CONVERSATION)
        .where(where)
        .values(
            lease_owner=sa.bindparam("b_owner", type_=_C.lease_owner.type),
            lease_until=sa.bindparam("b_until", type_=UTCDateTime()),
            # An expired lease still owned was never given back: its turn was interrupted.
            lease_lapses=sa.case((_C.lease_owner.is_(None), 0), else_=_C.lease_lapses + 1),
        )
        .returning(_C.id)
    )


_CLAIM_LEASES = {skip: _claim_leases_statement(skip_locked=skip) for skip in (False, True)}


async def claim_turn_leases(
    session: AsyncSession,
    *,
    conversation_ids: list[int],
    owner: str,
    at: datetime,
    until: datetime,
    skip_locked: bool,
) -> set[int]:
    """The turn leases of several conversations, taken in one statement; returns those taken. Those
    not taken hold another's live lease or (`skip_locked`) were locked at that moment; without it
    the statement waits for a locked row."""
    params = {"b_conversation_ids": conversation_ids, "b_at": at, "b_owner": owner, "b_until": until}
    return {int(i) for i in (await session.execute(_CLAIM_LEASES[skip_locked], params)).scalars()}


async def claim_turn_lease(
    session: AsyncSession, *, conversation_id: int, owner: str, at: datetime, until: datetime
) -> bool:
    """Take the conversation's turn lease if free or expired (`claim_turn_leases` of one)."""
    taken = await claim_turn_leases(
        session, conversation_ids=[conversation_id], owner=owner, at=at, until=until, skip_locked=False
    )
    return conversation_id in taken


@dataclass(frozen=True)
class Released:
    """What the lease's release found: whether `owner` still held it, messages pending for the bot
    (stored while it held the lease, by this process or another), and outbound rows waiting to be
    claimed (queued by others meanwhile, a rep's reply...)."""

    held: bool = False
    pending: bool = False
    unsent: bool = False


def unsent_outbound(conversation_id: Any) -> Any:
    """EXISTS: a reply of the conversation waits to be claimed (`pending`)."""
    return (
        select(_M.id)
        .where(
            _M.conversation_id == conversation_id,
            _M.direction == str(Direction.OUTBOUND),
            _M.status == str(SendStatus.PENDING),
        )
        .exists()
    )


_HELD_BY = and_(_C.id == sa.bindparam("b_conversation_id"), _C.lease_owner == sa.bindparam("b_owner"))
_RELEASE_LEASE = (
    sa.update(_CONVERSATION)
    .where(_HELD_BY)
    .values(lease_owner=None, lease_until=None)
    .returning(_C.has_pending, unsent_outbound(sa.bindparam("b_conversation_id")).label("unsent"))
)


def releasing(conversation_id: int, owner: str) -> tuple[sa.Update, dict[str, Any]]:
    """The release of `owner`'s lease as a statement and its parameters, for a caller that runs it
    joined to another (the record of a turn's last send: `outbox.After`); `released_from` reads
    its row."""
    return _RELEASE_LEASE, {"b_conversation_id": conversation_id, "b_owner": owner}


def released_from(row: sa.Row[Any] | None) -> Released:
    """What `releasing`'s statement returned (None: the lease was not held)."""
    if row is None:
        return Released()
    return Released(held=True, pending=bool(row.has_pending), unsent=bool(row.unsent))


_RENEW_LEASE = (
    sa.update(_CONVERSATION).where(_HELD_BY).values(lease_until=sa.bindparam("b_until", type_=UTCDateTime()))
)


async def release_turn_lease(session: AsyncSession, *, conversation_id: int, owner: str) -> Released:
    """Give the lease up; returns whether messages are pending for the bot, so the caller can run
    again instead of leaving them to the sweep, and whether replies are waiting to be sent."""
    statement, params = releasing(conversation_id, owner)
    return released_from((await session.execute(statement, params)).first())


async def renew_turn_lease(
    session: AsyncSession, *, conversation_id: int, owner: str, until: datetime
) -> bool:
    """Extend the lease if `owner` still holds it; False when another worker has taken it."""
    result = await session.execute(
        _RENEW_LEASE, {"b_conversation_id": conversation_id, "b_owner": owner, "b_until": until}
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def consume_statement(turn: Any, *, only_if: Any = None) -> sa.Update:
    """`mark_consumed`'s UPDATE (messages `b_ids`, at `b_at`) with `turn` as the turn's number (a
    bound value, or an expression of a statement it is joined to) and an extra condition."""
    where = [_M.id.in_(sa.bindparam("b_ids", expanding=True)), _M.turn.is_(None)]
    if only_if is not None:
        where.append(only_if)
    return (
        sa.update(_MESSAGE)
        .where(*where)
        .values(turn=turn, status="processed", updated_at=sa.bindparam("b_at", type_=UTCDateTime()))
    )


_MARK_CONSUMED = consume_statement(sa.bindparam("b_turn", type_=_M.turn.type))


async def mark_consumed(session: AsyncSession, *, message_ids: list[int], turn: int, at: datetime) -> int:
    """Mark inbound messages processed by `turn`, only those not processed yet; returns how many."""
    result = await session.execute(_MARK_CONSUMED, {"b_ids": message_ids, "b_turn": turn, "b_at": at})
    return int(getattr(result, "rowcount", 0))
