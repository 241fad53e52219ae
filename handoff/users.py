"""Users of the rep workspace (reps, leads, admins): passwords, API tokens and signed access tokens.

- Passwords are hashed with scrypt (stdlib) and a random salt; the stored form names its parameters
  (``scrypt$16384$8$1$<salt>$<hash>``) so they can be raised later without breaking old hashes.
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

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.errors import UserError
from handoff.models import Rep, RepQueue
from handoff.reps import hash_token
from orchestrator.core.enums import Presence, Role

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_DUMMY_HASH: str | None = None
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "handoff-rep-api"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check. With no stored hash (unknown user, or password login disabled) a dummy
    hash is still computed, so the answer takes as long either way."""
    global _DUMMY_HASH
    if stored is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        stored, known = _DUMMY_HASH, False
    else:
        known = True
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(expected))
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected)) and known


def password_fingerprint(password_hash: str | None) -> str:
    """Changes whenever the password changes or is cleared; embedded in access tokens."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


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
