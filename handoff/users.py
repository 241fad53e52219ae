"""Users of the rep workspace (reps, leads, admins): passwords, API tokens and signed access tokens.

- Passwords are hashed with Argon2id (pwdlib, OWASP's first choice). Hashes of the older scrypt
  form (``scrypt$16384$8$1$<salt>$<hash>``) still verify, and are replaced by Argon2id at the next
  successful sign-in (as are Argon2 hashes with weaker parameters than today's).
- Sign-in (`sign_in`) is throttled: after `LOGIN_MAX_FAILURES` failures for a user within
  `LOGIN_WINDOW`, further attempts are refused without checking the password until the window has
  passed. Failures are audit entries (`login_failed`), so every process sees the same count; a
  successful sign-in is one too (`signed_in`).
  Attempts from a browser the user signed in with before (it shows a device cookie, see
  `device_token`) are counted apart, per device (OWASP's device cookies): anyone can lock a user
  id out of sign-in from unknown clients by guessing wrong, but not the user's own browsers.
- API tokens are random, shown once, and stored as a SHA-256 hash in `Rep.token_hash` (a token is
  already high-entropy, so a fast hash is enough; the demo tokens `demo-<id>` are seeded the same way).
- Access tokens from the OAuth2 password flow are HS256 JWTs. They carry a fingerprint of the
  password hash, so changing or clearing a password (disabling a user) revokes them at once.
- Who may see and do what is decided in `handoff.policy`.

Errors: `UserError` (`handoff.errors.Invalid`) for a bad request about users (unknown queue,
duplicate id...).
Keyword-only functions; the caller owns the transaction.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.base import ensure_bytes, ensure_str
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from handoff.errors import TooManyAttempts, Unauthenticated, UserError
from handoff.models import AuditEntry, Rep, RepQueue
from handoff.reps import hash_token
from orchestrator.core.enums import Presence, Role

_DUMMY_HASH: str | None = None
LOGIN_WINDOW = timedelta(minutes=5)
LOGIN_MAX_FAILURES = 5
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "handoff-rep-api"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LegacyScryptHasher:
    """Verifies the scrypt hashes stored before Argon2id; never makes new ones (always rehashed)."""

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        return ensure_str(hash).startswith("scrypt$")

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        raise NotImplementedError("new passwords are hashed with Argon2id")

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        try:
            _scheme, n, r, p, salt, expected = ensure_str(hash).split("$")
            digest = hashlib.scrypt(
                ensure_bytes(password),
                salt=_unb64(salt),
                n=int(n),
                r=int(r),
                p=int(p),
                dklen=len(_unb64(expected)),
            )
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(digest, _unb64(expected))

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return True


PASSWORDS = PasswordHash((Argon2Hasher(), LegacyScryptHasher()))


def hash_password(password: str) -> str:
    return PASSWORDS.hash(password)


def verify_and_update(password: str, stored: str | None) -> tuple[bool, str | None]:
    """(matches, a new hash to store when the stored one should be replaced). With no stored hash
    (unknown user, or password sign-in disabled) a dummy hash is still checked, so the answer takes
    as long either way."""
    global _DUMMY_HASH
    if stored is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        PASSWORDS.verify(password, _DUMMY_HASH)
        return False, None
    try:
        return PASSWORDS.verify_and_update(password, stored)
    except UnknownHashError:
        return False, None


def verify_password(password: str, stored: str | None) -> bool:
    return verify_and_update(password, stored)[0]


def password_fingerprint(password_hash: str | None) -> str:
    """Changes whenever the password changes or is cleared; embedded in access tokens."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


DEVICE_TTL = timedelta(days=180)
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def device_token(*, rep_id: str, secret: str) -> str:
    """A device cookie's value for a browser `rep_id` just signed in with: a new random device id,
    signed with the service's secret (HMAC-SHA256), so it cannot be made up or moved to another
    user. It grants nothing; it only means the user's own failures on that browser are counted
    apart from unknown clients' (`sign_in`)."""
    device = secrets.token_urlsafe(12)
    return f"{device}.{_device_signature(rep_id, device, secret)}"


def device_of(token: str | None, *, rep_id: str, secret: str) -> str | None:
    """The device id of a device cookie issued to `rep_id`, or None (none, forged, another user's)."""
    device, _, signature = (token or "").partition(".")
    if len(token or "") > 128 or not _B64URL.fullmatch(device) or not _B64URL.fullmatch(signature):
        return None  # not one of ours (a cookie can carry any Latin-1 text)
    return device if hmac.compare_digest(signature, _device_signature(rep_id, device, secret)) else None


def _device_signature(rep_id: str, device: str, secret: str) -> str:
    message = f"handoff-device|{rep_id}|{device}".encode()
    return _b64(hmac.new(secret.encode(), message, hashlib.sha256).digest()[:18])


def new_api_token() -> str:
    return "hk_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AccessClaims:
    rep_id: str
    fingerprint: str


def issue_access_token(*, rep: Rep, secret: str, at: datetime, ttl: timedelta) -> str:
    claims = {
        "sub": rep.id,
        "aud": JWT_AUDIENCE,
        "iat": int(at.timestamp()),
        "exp": int((at + ttl).timestamp()),
        "pwf": password_fingerprint(rep.password_hash),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, *, secret: str, at: datetime) -> AccessClaims | None:
    """The claims of a valid, unexpired token signed with `secret`; None otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["sub", "exp", "pwf"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    # Expiry is checked against the service clock (tests and replay run on a controlled clock).
    if int(claims["exp"]) <= at.timestamp():
        return None
    return AccessClaims(rep_id=str(claims["sub"]), fingerprint=str(claims["pwf"]))


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


async def rep_by_api_token(session: AsyncSession, *, token: str) -> Rep | None:
    found: Rep | None = (
        (await session.execute(select(Rep).where(col(Rep.token_hash) == hash_token(token)))).scalars().first()
    )
    return found


async def set_queues(session: AsyncSession, *, rep_id: str, queues: list[str], known: set[str]) -> None:
    unknown = sorted(set(queues) - known)
    if unknown:
        raise UserError(f"unknown queue(s): {', '.join(unknown)}")
    current = set(
        (await session.execute(select(col(RepQueue.queue)).where(col(RepQueue.rep_id) == rep_id))).scalars()
    )
    gone = current - set(queues)
    if gone:
        await session.execute(
            delete(RepQueue).where(col(RepQueue.rep_id) == rep_id, col(RepQueue.queue).in_(gone))
        )
    for queue in sorted(set(queues) - current):
        session.add(RepQueue(rep_id=rep_id, queue=queue))
    await session.flush()


async def create_user(
    session: AsyncSession,
    *,
    rep_id: str,
    name: str,
    role: Role,
    queues: list[str],
    known_queues: set[str],
    capacity: int,
    password: str | None,
    at: datetime,
) -> Rep:
    if await session.get(Rep, rep_id) is not None:
        raise UserError(f"a user with id {rep_id!r} already exists")
    rep = Rep(
        id=rep_id,
        name=name,
        role=role,
        capacity=capacity,
        password_hash=hash_password(password) if password else None,
        presence=Presence.OFFLINE,
        created_at=at,
    )
    session.add(rep)
    await session.flush()
    await set_queues(session, rep_id=rep_id, queues=queues, known=known_queues)
    return rep


async def rotate_api_token(session: AsyncSession, *, rep: Rep) -> str:
    """A new API token for `rep` (the old one stops working). Returned once, stored hashed."""
    token = new_api_token()
    rep.token_hash = hash_token(token)
    session.add(rep)
    await session.flush()
    return token


async def disable_login(session: AsyncSession, *, rep: Rep) -> None:
    """No more logins: clear the API token and password (which also revokes access tokens)."""
    rep.token_hash = None
    rep.password_hash = None
    session.add(rep)
    await session.flush()


async def _forget_attempt(sessions: async_sessionmaker[AsyncSession], attempt_id: int | None) -> None:
    async with sessions() as session, session.begin():
        await session.execute(delete(AuditEntry).where(col(AuditEntry.id) == attempt_id))


async def sign_in(
    sessions: async_sessionmaker[AsyncSession],
    *,
    username: str,
    secret: str,
    at: datetime,
    api_token_too: bool = False,
    device: str | None = None,
) -> Rep:
    """The rep whose password (or, with `api_token_too`, for a user without a password, API token)
    is `secret`. Throttled per user,
    and per `device` (the id of a device cookie verified for this user, `device_of`) apart from
    unknown clients; a failure is recorded; a stored hash that should be stronger is replaced.
    Raises `Unauthenticated`, or `TooManyAttempts` while the user is locked out on this device (or
    from unknown clients)."""
    key = username[:64]
    since = at - LOGIN_WINDOW
    details: dict[str, str] = {"username": key} | ({"device": device} if device else {})
    # The attempt is recorded as a failure before the password is checked, and counted with those
    # before it: of any number of attempts at once, at most `LOGIN_MAX_FAILURES` in a window get
    # their password checked (counted after they check, concurrent guesses all passed the count).
    # A success turns its record into the sign-in's; a refused attempt removes its own, so refusals
    # do not extend the lockout.
    async with sessions() as session, session.begin():
        attempt = AuditEntry(actor_id=key, action="login_failed", details=details, created_at=at)
        session.add(attempt)
        await session.flush()
        attempt_id = attempt.id
    async with sessions() as session:
        # The user's failures in the window; those of this device (or of unknown clients) count.
        # Refused attempts are not kept, so there are at most a few per device.
        failures = [
            (id_, created)
            for id_, created, recorded in (
                await session.execute(
                    select(col(AuditEntry.id), col(AuditEntry.created_at), col(AuditEntry.details))
                    .where(
                        col(AuditEntry.action) == "login_failed",
                        col(AuditEntry.actor_id) == key,
                        col(AuditEntry.created_at) > since,
                    )
                    .order_by(col(AuditEntry.created_at), col(AuditEntry.id))
                )
            ).all()
            if (recorded or {}).get("device") == details.get("device")
        ]
        rep = await session.get(Rep, username)
    if len(failures) > LOGIN_MAX_FAILURES:
        await _forget_attempt(sessions, attempt_id)
        earlier = [created for id_, created in failures if id_ != attempt_id]
        retry = earlier[-LOGIN_MAX_FAILURES] + LOGIN_WINDOW - at
        raise TooManyAttempts(
            "too many failed sign-ins; try again later",
            retry_after_s=max(1, math.ceil(retry.total_seconds())),
        )
    # Argon2 is deliberately slow: off the event loop.
    ok, new_hash = await asyncio.to_thread(verify_and_update, secret, rep.password_hash if rep else None)
    if rep is not None and not ok and api_token_too and rep.password_hash is None:
        async with sessions() as session:
            by_token = await rep_by_api_token(session, token=secret)
        ok = by_token is not None and by_token.id == rep.id
    raise_after = rep is None or not ok  # the failure is recorded already
    if not raise_after:
        async with sessions() as session, session.begin():
            # The attempt's record becomes the sign-in's (no longer counted as a failure).
            await session.execute(
                update(AuditEntry).where(col(AuditEntry.id) == attempt_id).values(action="signed_in")
            )
            if new_hash is not None and rep is not None:
                fresh = await session.get(Rep, rep.id, with_for_update=True)
                if fresh is not None and fresh.password_hash == rep.password_hash:
                    fresh.password_hash = new_hash
                    session.add(fresh)
                    rep = fresh
    if raise_after:
        raise Unauthenticated("incorrect username or password")
    assert rep is not None
    return rep
